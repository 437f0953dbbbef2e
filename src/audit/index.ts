export { canonicalJson, canonicalJsonWithoutSecrets, RawJson } from './canonical.js';
export { chainBody, chainHash, GENESIS_HASH } from './chain.js';
export type { Checkpoint } from './checkpoint.js';
export {
  CHECKPOINT_KEY_FILE,
  CHECKPOINT_PUBLIC_KEY_FILE,
  CheckpointSigner,
  checkpointSignatureValid,
  parseCheckpointFile,
  parsePublicKey,
  publicKeyPem,
} from './checkpoint.js';
export { Checkpointer } from './checkpointer.js';
export { AuditLog } from './log.js';
export type { AuditEntry, AuditRecord } from './record.js';
export type { DigestEntry, RecordingCheck, RecordingDigest } from './recording-digest.js';
export { checkRecordings, digestFile, digestStream, RECORDING_DIGEST_TYPE } from './recording-digest.js';
export { isSecretKey, stripSecrets } from './redact.js';
export { seqLowerBound } from './time-index.js';
export type { CheckpointReport, VerifyFailure, VerifyOptions, VerifyResult } from './verify.js';
export { storedCheckpoints, verifyChain } from './verify.js';
