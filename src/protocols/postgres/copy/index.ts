// Masking for `COPY … TO STDOUT` output: what the statement will send (copy-spec), how to describe
// its columns, and the streaming masker the proxy runs on CopyData between CopyOutResponse and CopyDone.
//
// How the proxy uses it (one COPY):
//   statement text known (Query / Parse):  spec = copySpecOf(text)   (copyOutSpecsOf for a multi-statement Query)
//     refusal = copyRefusal(spec, masker) → if set, answer ErrorResponse(0A000) and do not run it
//     fields = await columnSources.describe(describeSql(spec)); srcs = await columnSources.resolve(fields)
//     plan = fields ? copyColumnPlan(spec, fields, srcs, masker) : null     (null → everything masked)
//   CopyOutResponse: copier = new CopyOutMasker({ spec, response, plan, masker, keepRows })  (may throw)
//   CopyData:        f = copier.data(frame, buf, start, length); if (f) send f   (f === frame when unchanged)
//   CopyDone:        f = copier.end(); if (f) send f; then forward CopyDone; record copier.rows / rowCount
//   CopyMaskError from any call: send ErrorResponse(e.sqlstate, e.message) instead of the rest of the
//     COPY, swallow the server's remaining CopyData/CopyDone/CommandComplete, forward ReadyForQuery.
export { CopyMaskError, type CopyMaskErrorCode, isCopyMaskError } from './copy-errors.js';
export { CopyOutMasker, type CopyOutOptions, copyColumnPlan, copyRefusal, DEFAULT_MAX_CARRY } from './copy-out.js';
export {
  type CopyFormat,
  type CopyQuerySource,
  type CopySpec,
  type CopyTableSource,
  copyOutSpecsOf,
  copySpecOf,
  describeSql,
  isQuerySource,
} from './copy-spec.js';
