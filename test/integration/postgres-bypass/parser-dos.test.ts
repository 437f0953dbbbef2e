// Finding 8: statements built to be expensive to parse (10,000-term sums, 10,000 nested
// parentheses) sent 1,000 times by one agent. Each must be answered (refused or an error), the
// gateway must keep serving others, and its memory must stay bounded.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { shopGatewaySuite } from '../../helpers/gateway.js';
import { summarize, WireClient, writeQueryBytes } from '../../helpers/wire-client.js';

const sum = (n: number) => `SELECT ${Array.from({ length: n }, () => '1').join('+')}`;
const parens = (n: number) => `SELECT ${'('.repeat(n)}1${')'.repeat(n)}`;
const arrays = (n: number) => `SELECT ${'ARRAY['.repeat(n)}1${']'.repeat(n)}`;
const BOMBS = [
  sum(10_000),
  parens(10_000),
  arrays(5_000),
  `SELECT 1 WHERE ${Array.from({ length: 5_000 }, (_, i) => `(${i} = ${i})`).join(' AND ')}`,
];

describe('bypass: parser bombs', () => {
  const suite = shopGatewaySuite();

  it('1,000 bombs over 4 sessions are each answered; the gateway keeps serving; memory stays bounded', {
    timeout: 120_000,
  }, async () => {
    const token = await suite.gw.token('bomber', ['agents']);
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 50);
    const started = Date.now();
    const perSession = 250;
    const answers = { ok: 0, refused: 0, error: 0, ended: 0 };
    try {
      await Promise.all(
        Array.from({ length: 4 }, async (_, s) => {
          const c = await WireClient.gateway(suite.gw.pgPort, token);
          try {
            // Pipelined in chunks of 25 so neither side buffers the whole run.
            for (let i = 0; i < perSession; i += 25) {
              c.send((w) => {
                for (let k = 0; k < 25; k++)
                  writeQueryBytes(w, Buffer.from(BOMBS[(s + i + k) % BOMBS.length] as string));
              });
              const msgs = await c.untilReady(25, 60_000);
              if (msgs.closed) {
                answers.ended++;
                return;
              }
              const out = summarize(msgs);
              // One answer per query: a result or an error, then ReadyForQuery.
              assert.equal(out.codes.split('Z').length - 1, 25);
              for (const e of out.errors) {
                if (e.code === '42501') answers.refused++;
                else answers.error++;
              }
              answers.ok += out.tags.length;
            }
          } finally {
            c.destroy();
          }
        }),
      );
    } finally {
      clearInterval(sampler);
    }
    const mb = (n: number) => Math.round(n / 1048576);
    console.log(
      `parser bombs: ${JSON.stringify(answers)} in ${Date.now() - started} ms; rss ${mb(rssBefore)} MB -> peak ${mb(rssPeak)} MB -> ${mb(process.memoryUsage().rss)} MB`,
    );
    assert.equal(answers.ended, 0, 'no bomb ends a session');
    assert.equal(answers.ok + answers.refused + answers.error, 1000);
    assert.ok(rssPeak - rssBefore < 768 * 1048576, `rss grew by ${mb(rssPeak - rssBefore)} MB`);

    // Others are still served.
    const dba = new pg.Client({ connectionString: suite.gw.url(await suite.gw.token('dba-after', ['dba'])) });
    const agent = new pg.Client({ connectionString: suite.gw.url(await suite.gw.token('agent-after', ['agents'])) });
    await dba.connect();
    await agent.connect();
    try {
      const after = await Promise.all([
        dba.query('SELECT 1 AS n').then(
          (r) => String(r.rows[0].n),
          (e: Error) => `dba: ${e.message}`,
        ),
        agent.query('SELECT name FROM customers WHERE id = 1').then(
          (r) => String(r.rows[0].name),
          (e: Error) => `agent: ${e.message}`,
        ),
        agent.query('SELECT 2 AS n').then(
          (r) => String(r.rows[0].n),
          (e: Error) => `agent: ${e.message}`,
        ),
      ]);
      assert.deepEqual(after, ['1', 'Ada Lovelace', '2'], 'normal statements after the bombs');
    } finally {
      await dba.end();
      await agent.end();
    }
  });
});
