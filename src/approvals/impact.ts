// A review's impact preview, as the approvals concern sees it: an optional previewer that the
// server wiring provides (it alone reaches targets), called when a review is created, bounded
// in time, and never able to fail or delay the review past its deadline: any failure is
// "impact unknown" with the reason. HTTP and Kubernetes operations need no probe: their preview
// is the resolved request (impact-request.ts).
import type { WardenConfig } from '../config/index.js';
import type { Clock } from '../core/clock.js';
import type { Operation } from '../core/types.js';
import type { ReviewImpact } from '../store/index.js';
import { requestImpact } from './impact-request.js';

/** What the server wiring provides: the numbers for one operation, read-only, never the write. */
export interface ImpactPreviewer {
  /** Resolves with what it could learn; may throw (the review then says why it is unknown). */
  preview(op: Operation, signal: AbortSignal): Promise<ImpactCounts>;
}

export interface ImpactCounts {
  verb?: string;
  table?: string;
  estimatedRows?: number | null;
  exactRows?: number | null;
  /** Why a number is missing (the first reason). */
  reason?: string;
}

/** How long a review waits for its preview at most (the client's answer waits that long too). */
export const IMPACT_DEADLINE_MS = 3000;

export interface PreviewOptions {
  deadlineMs?: number;
  /** For the upstream URL an HTTP or Kubernetes request goes to. */
  config?: Pick<WardenConfig, 'connections'>;
}

/**
 * The preview for a review being created: a SQL write's counts, an HTTP or k8s request as
 * resolved; null when the operation has none (a SQL read, a command).
 */
export async function previewImpact(
  previewer: ImpactPreviewer | undefined,
  op: Operation,
  clock: Clock,
  opts: PreviewOptions = {},
): Promise<ReviewImpact | null> {
  if (op.kind === 'http' || op.kind === 'k8s')
    return requestImpact(op, upstreamUrlOf(opts.config, op.connection.name), clock);
  if (op.kind !== 'sql' || !op.sql.writes) return null;
  const deadlineMs = opts.deadlineMs ?? IMPACT_DEADLINE_MS;
  if (!previewer) return unknown('no impact previewer for this gateway', clock);
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new Error(`no answer within ${deadlineMs} ms`));
    }, deadlineMs);
    timer.unref();
  });
  try {
    const counts = await Promise.race([previewer.preview(op, abort.signal), deadline]);
    return impactOf(counts, clock);
  } catch (err) {
    return unknown((err as Error).message || 'the preview failed', clock);
  } finally {
    clearTimeout(timer);
  }
}

/** The stored impact for what a previewer learned. */
export function impactOf(c: ImpactCounts, clock: Clock): ReviewImpact {
  const exact = finite(c.exactRows);
  const estimate = finite(c.estimatedRows);
  const base = {
    ...(c.verb ? { verb: c.verb } : {}),
    ...(c.table ? { table: c.table } : {}),
    estimatedRows: estimate,
    exactRows: exact,
    ...(c.reason ? { reason: c.reason } : {}),
    computedAt: clock.now(),
  };
  if (exact === null && estimate === null)
    return { status: 'unknown', ...base, summary: `impact unknown: ${c.reason ?? 'no numbers'}` };
  const verb = c.verb ?? 'affect';
  const summary =
    exact !== null
      ? `would ${verb} ${rows(exact)}${estimate !== null && estimate !== exact ? ` (planner estimate ${rows(estimate)})` : ''}`
      : `would ${verb} about ${rows(estimate!)} (planner estimate)`;
  return { status: 'known', ...base, summary };
}

/** A connection's configured upstream `url` (HTTP, Kubernetes), when it has one. */
function upstreamUrlOf(config: PreviewOptions['config'], name: string): string | undefined {
  const url = (config?.connections[name] as { url?: unknown } | undefined)?.url;
  return typeof url === 'string' ? url : undefined;
}

function unknown(reason: string, clock: Clock): ReviewImpact {
  return {
    status: 'unknown',
    estimatedRows: null,
    exactRows: null,
    reason,
    summary: `impact unknown: ${reason}`,
    computedAt: clock.now(),
  };
}

function rows(n: number): string {
  return `${n} row${n === 1 ? '' : 's'}`;
}

function finite(n: number | null | undefined): number | null {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : null;
}
