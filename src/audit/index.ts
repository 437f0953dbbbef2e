export { canonicalJson, canonicalJsonWithoutSecrets, RawJson } from './canonical.js';
export { chainBody, chainHash, GENESIS_HASH } from './chain.js';
export { AuditLog } from './log.js';
export type { AuditEntry, AuditRecord } from './record.js';
export { isSecretKey, stripSecrets } from './redact.js';
export type { VerifyFailure, VerifyResult } from './verify.js';
