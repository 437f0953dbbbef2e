// What the gateway needs from the approvals concern. Declared here (the consumer) so the gateway
// compiles against a small surface; src/approvals implements it.
import type { Decision, Identity, Operation } from '../core/types.js';

export interface ReviewTicket {
  id: string;
  state: 'pending' | 'approved' | 'denied' | 'expired' | 'executed';
}

export interface ApprovalsPort {
  /** Connection names this identity holds an active just-in-time grant for (sync: hot path). */
  activeGrants(identity: Identity): string[];
  /** An approved, unexpired review covering exactly this operation; consumes one use. */
  consumeApproval(op: Operation): Promise<string | null>;
  /** Store a new review for an operation the policy sent to review. */
  createReview(op: Operation, decision: Decision): Promise<ReviewTicket>;
  /** Wait until the review is decided or `ms` pass; resolves with its final state. */
  waitForDecision(reviewId: string, ms: number, signal?: AbortSignal): Promise<ReviewTicket['state']>;
}

/** A stable hash of exactly this operation for this identity on this connection. */
export { operationHash } from './operation-hash.js';
