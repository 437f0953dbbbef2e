// Prometheus metrics for the whole gateway. One registry per Gateway instance, so tests that
// start several gateways in one process do not collide.
//
// The two metrics every operation touches count in plain fields and hand their figures to
// prom-client when scraped: a prom-client child's inc()/observe() validates and hashes its label
// object on every call (~2% of the gateway's CPU per statement at pgbench c=8).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

type CounterChild = ReturnType<Counter<'effect' | 'protocol' | 'kind'>['labels']>;

/** A `warden_decisions_total` child: counts here, added to prom-client's at each scrape. */
export class DecisionCount {
  pending = 0;
  constructor(readonly child: CounterChild) {}
  inc(): void {
    this.pending++;
  }
}

/** A `warden_decide_seconds` child: per-bucket counts (not cumulative), their sum and count. */
export class DecideTimes {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }
  observe(seconds: number): void {
    if (!Number.isFinite(seconds)) return;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++)
      if (seconds <= bounds[i]!) {
        this.counts[i]!++;
        break;
      }
    this.sum += seconds;
    this.count++;
  }
  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

/** What prom-client's registry reads from a histogram. */
interface HistogramExport {
  name: string;
  help: string;
  type: 'histogram';
  values: { labels: Record<string, string | number>; value: number; metricName: string }[];
  aggregator: 'sum';
}

const DECIDE_NAME = 'warden_decide_seconds';
const DECIDE_HELP = 'Time to decide one operation (identity re-check, analysis, policy, audit)';
const DECIDE_BUCKETS = [0.00002, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05];

/**
 * `warden_decide_seconds` with its figures kept in DecideTimes children, exported in the shape
 * (and text) prom-client gives its own histograms (test/unit/gateway/metrics.test.ts compares them).
 */
export class DecideHistogram extends Histogram<'protocol'> {
  // Made on first use: prom-client's constructor calls reset() before this class's fields exist.
  private times: Map<string, DecideTimes> | undefined;

  /** The child for this protocol. */
  child(protocol: string): DecideTimes {
    this.times ??= new Map();
    let t = this.times.get(protocol);
    if (!t) {
      t = new DecideTimes(DECIDE_BUCKETS);
      this.times.set(protocol, t);
    }
    return t;
  }

  // What the registry calls for the text exposition (prom-client's own histogram has it too).
  async getForPromString(): Promise<HistogramExport> {
    const values: HistogramExport['values'] = [];
    for (const [protocol, t] of this.times ?? []) {
      let acc = 0;
      for (let i = 0; i < DECIDE_BUCKETS.length; i++) {
        acc += t.counts[i]!;
        values.push({ labels: { le: DECIDE_BUCKETS[i]!, protocol }, value: acc, metricName: `${DECIDE_NAME}_bucket` });
      }
      values.push({ labels: { le: '+Inf', protocol }, value: t.count, metricName: `${DECIDE_NAME}_bucket` });
      values.push({ labels: { protocol }, value: t.sum, metricName: `${DECIDE_NAME}_sum` });
      values.push({ labels: { protocol }, value: t.count, metricName: `${DECIDE_NAME}_count` });
    }
    return { name: DECIDE_NAME, help: DECIDE_HELP, type: 'histogram', values, aggregator: 'sum' };
  }

  override get(): ReturnType<Histogram<'protocol'>['get']> {
    return this.getForPromString() as unknown as ReturnType<Histogram<'protocol'>['get']>;
  }

  override reset(): void {
    super.reset();
    for (const t of this.times?.values() ?? []) t.reset();
  }
}

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly decisions = new Counter({
    name: 'warden_decisions_total',
    help: 'Operations decided, by effect, connection type and operation kind',
    labelNames: ['effect', 'protocol', 'kind'] as const,
    registers: [this.registry],
    collect: () => {
      for (const c of this.decisionCounts) {
        if (c.pending === 0) continue;
        c.child.inc(c.pending);
        c.pending = 0;
      }
    },
  });
  readonly sessionsOpen = new Gauge({
    name: 'warden_sessions_open',
    help: 'Client sessions currently open, by protocol',
    labelNames: ['protocol'] as const,
    registers: [this.registry],
  });
  readonly sessionsRejected = new Counter({
    name: 'warden_sessions_rejected_total',
    help: 'Sessions refused at connect time, by reason code',
    labelNames: ['protocol', 'reason'] as const,
    registers: [this.registry],
  });
  readonly decideSeconds = new DecideHistogram({
    name: DECIDE_NAME,
    help: DECIDE_HELP,
    labelNames: ['protocol'] as const,
    buckets: DECIDE_BUCKETS,
    registers: [this.registry],
  });

  // Label children, cached: these two run once per operation.
  private readonly decisionChildren = new Map<string, Map<string, Map<string, DecisionCount>>>();
  private readonly decisionCounts: DecisionCount[] = [];

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'warden_' });
  }

  /** The `warden_decisions_total` child for these labels. */
  decisionCounter(effect: string, protocol: string, kind: string): DecisionCount {
    let byProtocol = this.decisionChildren.get(effect);
    if (!byProtocol) {
      byProtocol = new Map();
      this.decisionChildren.set(effect, byProtocol);
    }
    let byKind = byProtocol.get(protocol);
    if (!byKind) {
      byKind = new Map();
      byProtocol.set(protocol, byKind);
    }
    let child = byKind.get(kind);
    if (!child) {
      child = new DecisionCount(this.decisions.labels(effect, protocol, kind));
      byKind.set(kind, child);
      this.decisionCounts.push(child);
    }
    return child;
  }

  /** The `warden_decide_seconds` child for this protocol. */
  decideTimer(protocol: string): DecideTimes {
    return this.decideSeconds.child(protocol);
  }
}
