// What reaches the client besides rows: error and notice texts, notifications and reported
// settings. A statement can put data into each (`email::regclass`, `pg_notify('c', email)`,
// `set_config('application_name', email, …)`), so each passes the session's masker.
import type { Masker } from '../../masking/index.js';
import { redactQuotedValues } from './error-text.js';
import { pinnedParameterProblem } from './pinned.js';
import {
  BackendCode,
  type MessageReader,
  type MessageWriter,
  parseNotificationResponse,
  parseParameterStatus,
  rewriteErrorFields,
  writeParameterStatus,
} from './wire/index.js';

/** ErrorResponse / NoticeResponse with message, detail, hint and context masked. */
export function maskErrorFields(masker: Masker | null, m: MessageReader, statement: string | null): Buffer {
  if (!masker) return m.frame();
  return rewriteErrorFields(m.buffer, m.start, m.length, (code, value) => {
    if (code !== 'M' && code !== 'D' && code !== 'H' && code !== 'W') return undefined;
    const masked = redactQuotedValues(masker.maskText(value), statement);
    return masked === value ? undefined : masked;
  });
}

/** ParameterStatus / NotificationResponse with their values masked. */
export function maskSideChannel(w: MessageWriter, masker: Masker | null, m: MessageReader): Buffer {
  if (!masker?.maskTextMaybe(m.buffer, m.start, m.start + m.length)) return m.frame();
  if (m.code === BackendCode.ParameterStatus) {
    const p = parseParameterStatus(m.buffer, m.start, m.length);
    return writeParameterStatus(w, p.name, masker.maskText(p.value)).flush();
  }
  const n = parseNotificationResponse(m.buffer, m.start, m.length);
  return w
    .begin(BackendCode.NotificationResponse)
    .int32(n.pid)
    .cstring(masker.maskText(n.channel))
    .cstring(masker.maskText(n.payload))
    .end()
    .flush();
}

/** A ParameterStatus the analysis cannot live with (a pinned setting changed anyway), or null. */
export function pinnedChange(m: MessageReader): string | null {
  const p = parseParameterStatus(m.buffer, m.start, m.length);
  return pinnedParameterProblem(p.name, p.value);
}

/** NotificationResponse as the client gets it: values masked, its own backend's pid as the client knows it. */
export function maskNotification(
  w: MessageWriter,
  masker: Masker | null,
  m: MessageReader,
  realPid: number,
  clientPid: number,
): Buffer {
  return withClientPid(maskSideChannel(w, masker, m), realPid, clientPid);
}

/**
 * A notification sent by this session's own backend names the client's pid, not the real one:
 * clients compare it with BackendKeyData to spot their own notifications, and the real pid never
 * leaves the gateway.
 */
export function withClientPid(frame: Buffer, realPid: number, clientPid: number): Buffer {
  if (frame[0] !== BackendCode.NotificationResponse || frame.readInt32BE(5) !== realPid) return frame;
  const copy = Buffer.from(frame);
  copy.writeInt32BE(clientPid, 5);
  return copy;
}
