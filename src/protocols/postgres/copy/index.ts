// Masking for `COPY … TO STDOUT` output: what the statement will send (copy-spec), how to describe
// its columns, and the streaming masker the proxy runs on CopyData between CopyOutResponse and CopyDone.

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
