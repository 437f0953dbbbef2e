// Prometheus metrics for the whole gateway. One registry per Gateway instance, so tests that
// start several gateways in one process do not collide.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

type CounterChild = ReturnType<Counter<'effect' | 'protocol' | 'kind'>['labels']>;
type HistogramChild = ReturnType<Histogram<'protocol'>['labels']>;

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly decisions = new Counter({
    name: 'warden_decisions_total',
    help: 'Operations decided, by effect, connection type and operation kind',
    labelNames: ['effect', 'protocol', 'kind'] as const,
    registers: [this.registry],
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
  readonly decideSeconds = new Histogram({
    name: 'warden_decide_seconds',
    help: 'Time to decide one operation (identity re-check, analysis, policy, audit)',
    labelNames: ['protocol'] as const,
    buckets: [0.00002, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
    registers: [this.registry],
  });

  // Label children, cached: inc({…}) / observe({…}) hash the label object on every call, and
  // these two run once per operation.
  private readonly decisionChildren = new Map<string, Map<string, Map<string, CounterChild>>>();
  private readonly decideChildren = new Map<string, HistogramChild>();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'warden_' });
  }

  /** The `warden_decisions_total` child for these labels. */
  decisionCounter(effect: string, protocol: string, kind: string): CounterChild {
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
      child = this.decisions.labels(effect, protocol, kind);
      byKind.set(kind, child);
    }
    return child;
  }

  /** The `warden_decide_seconds` child for this protocol. */
  decideTimer(protocol: string): HistogramChild {
    let child = this.decideChildren.get(protocol);
    if (!child) {
      child = this.decideSeconds.labels(protocol);
      this.decideChildren.set(protocol, child);
    }
    return child;
  }
}
