export { freePort } from './free-port.js';
export { Gateway, type GatewayDeps, type OpenSessionRequest } from './gateway.js';
export { createLogger } from './logger.js';
export { GatewayMetrics } from './metrics.js';
export { buildOperation, type OperationContext, type OperationInput, operationFacts } from './operation.js';
export { type PolicyTestResult, policyTest } from './policy-test.js';
export { type ApprovalsPort, operationHash, type ReviewTicket } from './ports.js';
export { RevocationCache } from './revocations.js';
export { GatewaySession, type OperationResult, type SessionProtocol } from './session.js';
export {
  PendingAudit,
  type Refusal,
  type RefusalKind,
  type Verdict,
  type VerdictObserver,
  type VerdictReport,
} from './verdict.js';
