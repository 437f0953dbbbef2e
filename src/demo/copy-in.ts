// COPY … FROM STDIN on PGlite: its backend must receive the statement and all of the copy data in
// one call (asked for more input mid-call, it exits). So the server answers the client's COPY with
// its own CopyInResponse, collects CopyData up to CopyDone/CopyFail, then runs the lot at once and
// drops PGlite's own CopyInResponse from the reply.
import { BackendCode, FrontendCode, MessageReader } from '../protocols/postgres/wire/index.js';

/** Largest COPY … FROM STDIN the demo target buffers. */
export const MAX_COPY_IN_BYTES = 64 * 1024 * 1024;

const COPY_FROM_STDIN = /^copy\b[\s\S]*?\bfrom\s+stdin\b/i;
const BINARY = /\bbinary\b/i;

/** The SQL text of a Query or Parse frame when it is a COPY … FROM STDIN, else null. */
export function copyFromStdinText(frame: Buffer): string | null {
  let start: number;
  if (frame[0] === FrontendCode.Query) start = 5;
  else if (frame[0] === FrontendCode.Parse) start = frame.indexOf(0, 5) + 1;
  else return null;
  const end = frame.indexOf(0, start);
  if (start <= 0 || end < 0) return null;
  const text = stripLeadingComments(frame.toString('utf8', start, end));
  return COPY_FROM_STDIN.test(text) ? text : null;
}

function stripLeadingComments(sql: string): string {
  let s = sql.trimStart();
  for (;;) {
    if (s.startsWith('--')) {
      const nl = s.indexOf('\n');
      s = nl < 0 ? '' : s.slice(nl + 1).trimStart();
    } else if (s.startsWith('/*')) {
      const close = s.indexOf('*/');
      s = close < 0 ? '' : s.slice(close + 2).trimStart();
    } else {
      return s;
    }
  }
}

/** CopyInResponse with no per-column formats (clients only read the overall format). */
export function copyInResponse(copyText: string): Buffer {
  const out = Buffer.alloc(1 + 4 + 1 + 2);
  out[0] = BackendCode.CopyInResponse;
  out.writeInt32BE(7, 1);
  out[5] = BINARY.test(copyText) ? 1 : 0;
  out.writeInt16BE(0, 6);
  return out;
}

/** `reply` without its first CopyInResponse (the client already had ours). */
export function withoutCopyInResponse(reply: Buffer): Buffer {
  const reader = new MessageReader({ maxMessageSize: Number.MAX_SAFE_INTEGER });
  reader.push(reply);
  while (reader.next()) {
    if (reader.code === BackendCode.CopyInResponse) {
      const at = reader.frameStart;
      const after = reader.start + reader.length;
      return Buffer.concat([reply.subarray(0, at), reply.subarray(after)]);
    }
  }
  return reply;
}
