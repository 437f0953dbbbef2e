// COPY … TO STDOUT on its way to the client. In a masked session each COPY was planned before it
// ran (result-plans.ts): CopyOutResponse starts its column masker, CopyData is masked by column,
// CopyDone hands its rows to the recording. Output that cannot be masked as it must ends the
// session (fail closed). Without a plan, CopyData passes the content detectors (ResultContext).
import type { OutBuffer } from '../relay/index.js';
import { CopyOutMasker, isCopyMaskError } from './copy/index.js';
import type { ProxyLink } from './link.js';
import type { ResultContext } from './result.js';
import { SQLSTATE_COPY } from './sqlstate.js';
import { BackendCode, type MessageReader, parseCopyResponse } from './wire/index.js';

export class CopyOutRelay {
  private readonly toClient: OutBuffer;

  constructor(private readonly link: ProxyLink) {
    this.toClient = link.toClient;
  }

  /** CopyOutResponse, CopyData or CopyDone of the result `ctx` (null: none expected). */
  message(ctx: ResultContext | null, m: MessageReader): undefined {
    const { buffer: buf, start, length } = m;
    if (m.code === BackendCode.CopyOutResponse) {
      if (ctx?.masker) {
        const copy = ctx.copies.shift();
        try {
          if (!copy) throw new Error('a COPY the gateway did not plan');
          ctx.copier = new CopyOutMasker({
            spec: copy.spec,
            response: parseCopyResponse(buf, start, length),
            plan: copy.plan,
            masker: ctx.masker,
            keepRows: this.link.keepRows,
          });
        } catch (err) {
          return this.failed(err);
        }
      }
      this.toClient.push(m.frame());
      return undefined;
    }
    const copier = ctx?.copier;
    if (m.code === BackendCode.CopyData) {
      if (copier) {
        try {
          const out = copier.data(m.frame(), buf, start, length);
          if (out) this.toClient.push(out);
        } catch (err) {
          return this.failed(err);
        }
        return undefined;
      }
      this.toClient.push(ctx ? ctx.copyData(m.frame(), buf, start, length) : m.frame());
      return undefined;
    }
    // CopyDone
    if (ctx && copier) {
      try {
        const out = copier.end();
        if (out) this.toClient.push(out);
      } catch (err) {
        return this.failed(err);
      }
      ctx.copyDone(copier);
    }
    this.toClient.push(m.frame());
    return undefined;
  }

  /** Nothing more of this COPY goes out: the session ends. */
  private failed(err: unknown): undefined {
    const why = isCopyMaskError(err) ? err.message : (err as Error).message;
    this.link.terminateWith(SQLSTATE_COPY, `COPY output could not be masked (${why}); the session is ended`);
    return undefined;
  }
}
