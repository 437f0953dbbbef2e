// The per-operation metrics count in plain fields (src/gateway/metrics.ts): what /metrics shows
// must be exactly what prom-client's own counter and histogram show for the same observations.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { GatewayMetrics } from '../../../src/gateway/metrics.js';

const BUCKETS = [0.00002, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05];

/** prom-client's own metrics, named and shaped as the gateway's. */
function reference() {
  const registry = new Registry();
  const decisions = new Counter({
    name: 'warden_decisions_total',
    help: 'Operations decided, by effect, connection type and operation kind',
    labelNames: ['effect', 'protocol', 'kind'] as const,
    registers: [registry],
  });
  const seconds = new Histogram({
    name: 'warden_decide_seconds',
    help: 'Time to decide one operation (identity re-check, analysis, policy, audit)',
    labelNames: ['protocol'] as const,
    buckets: BUCKETS,
    registers: [registry],
  });
  return { registry, decisions, seconds };
}

/** The two metrics' lines of an exposition, sorted (the order of series means nothing). */
function lines(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => /warden_decisions_total|warden_decide_seconds/.test(l))
    .sort();
}

const observation = fc.record({
  effect: fc.constantFrom('allow', 'mask', 'block', 'review'),
  protocol: fc.constantFrom('postgres', 'http', 'ssh'),
  kind: fc.constantFrom('sql', 'http', 'shell'),
  // Bucket edges exactly, values in between, beyond the last bucket, and non-finite ones.
  seconds: fc.oneof(
    fc.constantFrom(...BUCKETS, 0, 1, Number.NaN, Number.POSITIVE_INFINITY),
    fc.double({ min: 0, max: 0.1, noNaN: true }),
  ),
});

describe('gateway metrics', () => {
  it('/metrics text equals prom-client’s for the same observations, across scrapes and resets', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(observation, { maxLength: 40 }), { minLength: 1, maxLength: 4 }),
        async (scrapes) => {
          const mine = new GatewayMetrics();
          const ref = reference();
          for (const batch of scrapes) {
            for (const o of batch) {
              mine.decisionCounter(o.effect, o.protocol, o.kind).inc();
              mine.decideTimer(o.protocol).observe(o.seconds);
              ref.decisions.labels(o.effect, o.protocol, o.kind).inc();
              // prom-client refuses a non-finite value (throws); the gateway's child ignores it.
              if (Number.isFinite(o.seconds)) ref.seconds.labels(o.protocol).observe(o.seconds);
            }
            // Histogram lines for a protocol appear once it is used: prom-client's once observed.
            const expected = lines(await ref.registry.metrics());
            const actual = lines(await mine.registry.metrics()).filter(
              (l) =>
                !l.startsWith('warden_decide_seconds') || expected.some((e) => e.split(' ')[0] === l.split(' ')[0]),
            );
            assert.deepEqual(actual, expected);
          }
          mine.registry.resetMetrics();
          ref.registry.resetMetrics();
          assert.doesNotMatch(await mine.registry.metrics(), /warden_decide_seconds_count\{[^}]*\} [1-9]/);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('a scrape adds what was counted since the last one, once', async () => {
    const m = new GatewayMetrics();
    const c = m.decisionCounter('allow', 'postgres', 'sql');
    c.inc();
    c.inc();
    assert.match(
      await m.registry.metrics(),
      /warden_decisions_total\{effect="allow",protocol="postgres",kind="sql"\} 2\n/,
    );
    assert.match(
      await m.registry.metrics(),
      /warden_decisions_total\{effect="allow",protocol="postgres",kind="sql"\} 2\n/,
    );
    c.inc();
    assert.match(
      await m.registry.metrics(),
      /warden_decisions_total\{effect="allow",protocol="postgres",kind="sql"\} 3\n/,
    );
    m.decideTimer('postgres').observe(0.0003);
    const text = await m.registry.metrics();
    assert.match(text, /warden_decide_seconds_bucket\{le="0.00025",protocol="postgres"\} 0\n/);
    assert.match(text, /warden_decide_seconds_bucket\{le="0.0005",protocol="postgres"\} 1\n/);
    assert.match(text, /warden_decide_seconds_bucket\{le="\+Inf",protocol="postgres"\} 1\n/);
    assert.match(text, /warden_decide_seconds_sum\{protocol="postgres"\} 0.0003\n/);
    assert.match(text, /warden_decide_seconds_count\{protocol="postgres"\} 1\n/);
  });
});
