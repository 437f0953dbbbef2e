export { AuditLog } from './log.js';
export type { AuditEntry, AuditRecord } from './record.js';
export type { VerifyFailure, VerifyResult } from './verify.js';
export { canonicalJson, canonicalJsonWithoutSecrets, RawJson } from './canonical.js';
export { chainBody, chainHash, GENESIS_HASH } from './chain.js';
export { isSecretKey, stripSecrets } from './redact.js';
