// PGlite is one backend session shared by every client of the demo target, so prepared statement
// names are made per-client by prefixing them on the way in (Parse, Bind, Describe 'S', Close
// 'S'). Replies never carry the name, so nothing needs rewriting on the way out.
import { FrontendCode } from '../protocols/postgres/wire/index.js';

/**
 * `frame` is one complete typed message (header included). Returns the frame to send (the same
 * buffer when no name is involved) and the prefixed statement name it prepares, if any.
 */
export function prefixStatementName(frame: Buffer, prefix: string): { frame: Buffer; prepared?: string } {
  const code = frame[0];
  if (code === FrontendCode.Parse) {
    const name = cstringAt(frame, 5);
    if (name.text === '') return { frame };
    const prepared = prefix + name.text;
    return { frame: replaceRange(frame, 5, name.end, prepared), prepared };
  }
  if (code === FrontendCode.Bind) {
    const portal = cstringAt(frame, 5);
    const statement = cstringAt(frame, portal.end + 1);
    if (statement.text === '') return { frame };
    return { frame: replaceRange(frame, portal.end + 1, statement.end, prefix + statement.text) };
  }
  if ((code === FrontendCode.Describe || code === FrontendCode.Close) && frame[5] === 0x53 /* S */) {
    const name = cstringAt(frame, 6);
    if (name.text === '') return { frame };
    return { frame: replaceRange(frame, 6, name.end, prefix + name.text) };
  }
  return { frame };
}

function cstringAt(buf: Buffer, start: number): { text: string; end: number } {
  const end = buf.indexOf(0, start);
  if (end < 0) throw new RangeError('unterminated string in message');
  return { text: buf.toString('utf8', start, end), end };
}

/** Replace bytes [start, end) (a string without its NUL) with `text`, fixing the length field. */
function replaceRange(frame: Buffer, start: number, end: number, text: string): Buffer {
  const out = Buffer.concat([frame.subarray(0, start), Buffer.from(text, 'utf8'), frame.subarray(end)]);
  out.writeInt32BE(out.length - 1, 1);
  return out;
}
