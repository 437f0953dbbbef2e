// The impact previewer for PostgreSQL targets: the read-only probes of src/analysis/impact.ts,
// run on a side connection of the gateway's own (the connection's credentials, the requester's
// mapped database role, the pinned settings), each in its own `BEGIN READ ONLY` transaction
// under a statement timeout and rolled back. The write itself never runs.
//
// A probe runs only if the policy would let the requester run it themselves (allow or mask):
// the preview must not be a way to read what a rule hides, nor to run a function in a condition
// ahead of the approval that the requester could not run directly.
import type { ImpactCounts, ImpactPreviewer } from '../approvals/index.js';
import type { WardenConfig } from '../config/schema.js';
import type { Operation } from '../core/types.js';
import { buildOperation } from '../gateway/operation.js';
import type { Policy } from '../policy/index.js';
import { roleFor } from '../protocols/postgres/engine.js';
import { upstreamOptions } from '../protocols/postgres/index.js';
import {
  closeUpstream,
  connectUpstream,
  isUpstreamError,
  simpleQuery,
  type UpstreamConnection,
} from '../protocols/postgres/upstream/index.js';

/** Per-probe statement timeout on the target. */
const PROBE_TIMEOUT_MS = 2000;

export function postgresImpactPreviewer(config: WardenConfig, policy: Policy): ImpactPreviewer {
  return {
    async preview(op: Operation, signal: AbortSignal): Promise<ImpactCounts> {
      const conn = Object.hasOwn(config.connections, op.connection.name)
        ? config.connections[op.connection.name]
        : undefined;
      if (conn?.type !== 'postgres') return { reason: 'impact previews are for PostgreSQL targets' };
      // Loaded at the first preview: it brings pgsql-deparser, which an idle gateway does not need.
      const { impactProbes, planRows } = await import('../analysis/impact.js');
      const plan = impactProbes(op.text);
      if (!plan.ok) return { reason: plan.reason };
      const { probes } = plan;
      const out: ImpactCounts = { verb: probes.verb, table: probes.table };
      const reasons: string[] = [];
      const mayRun = (sql: string) => {
        const probeOp = buildOperation(
          { kind: 'sql', text: sql },
          { id: `${op.id}_impact`, session: op.session, connection: op.connection, identity: op.identity, at: op.at },
        );
        // The write reached review, so the requester holds access to this connection now.
        const effect = policy.decide(probeOp, { jitGrants: [op.connection.name] }).effect;
        return effect === 'allow' || effect === 'mask';
      };

      const wantExplain = mayRun(probes.explain);
      const wantCount = probes.count !== undefined && mayRun(probes.count);
      if (!wantExplain) reasons.push('the policy does not let the requester run EXPLAIN of it');
      if (probes.count === undefined) reasons.push(probes.noCount ?? 'no exact count');
      else if (!wantCount) reasons.push('the policy does not let the requester count those rows');
      if (!wantExplain && !wantCount) return { ...out, reason: reasons.join('; ') };

      const upstream = await connectUpstream({
        ...upstreamOptions(conn, { application_name: 'warden-impact-preview' }, roleFor(op.identity, conn.roles)),
        connectTimeoutMs: PROBE_TIMEOUT_MS,
      });
      const onAbort = () => upstream.socket.destroy();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        if (wantExplain) {
          const r = await readOnly(upstream, probes.explain).catch((err: Error) => {
            reasons.push(`EXPLAIN failed (${failure(err)})`);
            return null;
          });
          out.estimatedRows = planRows(r?.[0]?.[0]);
        }
        if (wantCount && probes.count) {
          const r = await readOnly(upstream, probes.count).catch((err: Error) => {
            reasons.push(`the count failed (${failure(err)})`);
            return null;
          });
          const n = r?.[0]?.[0];
          out.exactRows = n != null && /^\d+$/.test(n) ? Number(n) : null;
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
        closeUpstream(upstream);
      }
      if (reasons.length > 0) out.reason = reasons.join('; ');
      return out;
    },
  };
}

/**
 * A failure as the reason shows it: the SQLSTATE and what it means, never the server's message
 * (it can quote the statement's literals, which webhooks must not carry).
 */
function failure(err: unknown): string {
  const code = isUpstreamError(err) ? err.sqlstate : undefined;
  if (code === '57014') return 'statement timeout';
  if (code === '55P03') return 'lock timeout';
  if (code === '42501') return 'permission denied';
  if (code) return `SQLSTATE ${code}`;
  return isUpstreamError(err) ? err.code : 'error';
}

/** One probe in its own read-only transaction, always rolled back. */
async function readOnly(conn: UpstreamConnection, sql: string): Promise<(string | null)[][]> {
  await simpleQuery(conn, 'BEGIN TRANSACTION READ ONLY');
  try {
    await simpleQuery(conn, `SET LOCAL statement_timeout = ${PROBE_TIMEOUT_MS}`);
    await simpleQuery(conn, 'SET LOCAL lock_timeout = 500');
    return (await simpleQuery(conn, sql)).rows;
  } finally {
    await simpleQuery(conn, 'ROLLBACK').catch(() => {});
  }
}
