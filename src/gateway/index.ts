export { Gateway, type GatewayDeps, type OpenSessionRequest } from './gateway.js';
export { GatewaySession, type OperationInput, type OperationResult, type SessionProtocol } from './session.js';
export { PendingAudit, type Refusal, type RefusalKind, type Verdict } from './verdict.js';
export { GatewayMetrics } from './metrics.js';
export { RevocationCache } from './revocations.js';
export { createLogger } from './logger.js';
export { policyTest, type PolicyTestResult } from './policy-test.js';
export { operationHash, type ApprovalsPort, type ReviewTicket } from './ports.js';
export { freePort } from './free-port.js';
