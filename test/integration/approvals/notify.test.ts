import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { displayText, readDisplayText } from '../../../src/core/display-text.js';
import { type Env, makeEnv, reviewDecision, sqlOp, testConfig, who } from './fixture.js';

interface Delivery {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

const SECRET = 'webhook-test-secret';

describe('webhook notifications', () => {
  let server: Server;
  let base: string;
  const deliveries: Delivery[] = [];
  /** Paths that answer 500 to their first delivery. */
  const failFirst = new Set<string>(['/flaky']);
  let env: Env;

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '/';
        deliveries.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        if (failFirst.delete(path)) {
          res.writeHead(500).end('try again');
          return;
        }
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const config = testConfig({
      notifications: {
        webhooks: [
          { url: `${base}/json`, secret: SECRET },
          { url: `${base}/flaky`, secret: SECRET, events: ['review.created'] },
          { url: `${base}/slack/T000/B000/XXXX`, format: 'slack', events: ['review.*', 'access.requested'] },
        ],
      },
    });
    env = await makeEnv({ config, deps: { webhookRetry: { baseDelayMs: 20 } } });
  });
  after(async () => {
    await env.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const to = (path: string) => deliveries.filter((d) => d.path === path);

  test('review events are POSTed as signed JSON; a 500 is retried; Slack gets text', async () => {
    const agent = who('agent-n', ['agents']);
    const op = sqlOp(agent, "DELETE FROM orders WHERE note = 'secret-literal' OR true");
    const t = await env.approvals.createReview(op, reviewDecision());
    await env.approvals.approve(t.id, who('dana', ['dba']));
    await env.approvals.consumeApproval(op);
    await env.approvals.notifier.drain();

    // Deliveries are concurrent: compare by event, not arrival order.
    const json = to('/json');
    assert.deepEqual(json.map((d) => d.headers['x-warden-event']).sort(), [
      'review.approved',
      'review.created',
      'review.executed',
    ]);
    for (const d of json) {
      const expected = `sha256=${createHmac('sha256', SECRET).update(d.body).digest('hex')}`;
      assert.equal(d.headers['x-warden-signature'], expected, 'HMAC-SHA256 of the raw body');
      assert.equal(d.headers['content-type'], 'application/json');
      const payload = JSON.parse(d.body) as {
        event: string;
        review: { id: string; text: string; params?: unknown };
        at: string;
      };
      assert.equal(payload.event, d.headers['x-warden-event']);
      assert.equal(payload.review.id, t.id);
      assert.equal(payload.at, new Date(env.clock.now()).toISOString());
      assert.equal('params' in payload.review, false);
      assert.doesNotMatch(d.body, /secret-literal/, 'SQL literals never leave through a webhook');
    }
    const stateOf = (event: string) =>
      JSON.parse(json.find((d) => d.headers['x-warden-event'] === event)!.body).review.state;
    assert.equal(stateOf('review.created'), 'pending');
    assert.equal(stateOf('review.approved'), 'approved');
    assert.equal(stateOf('review.executed'), 'executed');

    const flaky = to('/flaky');
    assert.equal(flaky.length, 2, 'one 500, then one successful retry');
    assert.equal(flaky[0]!.body, flaky[1]!.body, 'the retry resends the same body');
    assert.equal(
      flaky[1]!.headers['x-warden-signature'],
      `sha256=${createHmac('sha256', SECRET).update(flaky[1]!.body).digest('hex')}`,
    );

    const slack = to('/slack/T000/B000/XXXX');
    assert.equal(slack.length, 3);
    const first = JSON.parse(slack.find((d) => d.headers['x-warden-event'] === 'review.created')!.body) as Record<
      string,
      unknown
    >;
    assert.deepEqual(Object.keys(first), ['text']);
    assert.match(String(first.text), new RegExp(`Review ${t.id}`));
    assert.match(String(first.text), /warden reviews approve/);
    assert.equal(slack[0]!.headers['x-warden-signature'], undefined, 'no secret, no signature');
  });

  test('access events, filtered per webhook', async () => {
    deliveries.length = 0;
    const r = await env.approvals.requestAccess(who('olivia', ['oncall']), 'shop', 3_600_000, 'incident');
    await env.approvals.approveAccess(r.id, who('sergei', ['sre']));
    await env.approvals.notifier.drain();
    const json = to('/json');
    assert.deepEqual(json.map((d) => d.headers['x-warden-event']).sort(), ['access.approved', 'access.requested']);
    const payload = JSON.parse(json.find((d) => d.headers['x-warden-event'] === 'access.approved')!.body) as {
      request: { id: string; state: string };
    };
    assert.equal(payload.request.id, r.id);
    assert.equal(payload.request.state, 'approved');
    assert.equal(to('/flaky').length, 0, 'that webhook only wants review.created');
    const slack = to('/slack/T000/B000/XXXX');
    assert.equal(slack.length, 1, 'access.requested only');
    assert.match(JSON.parse(slack[0]!.body).text, /warden access approve/);
  });

  test('texts that could lie reach Slack escaped; JSON keeps the exact data and adds an escaped display', async () => {
    deliveries.length = 0;
    // Erase the line, return the cursor, and print a harmless statement over it; then a bidi
    // override, a zero-width space, a line separator, C1 CSI, and a Slack mention and link.
    const attack =
      'delete from audit_notes /* \x1b[2K\r  operation  sql: select 1 */ \u202eelbat\u202c\u200b\u2028\u009b2J <!channel> <https://evil.example|ok>';
    const agent = who('agent-\x1b[31mred', ['agents']);
    const op = sqlOp(agent, attack) as ReturnType<typeof sqlOp> & { kind: 'sql'; normalized: string };
    const t = await env.approvals.createReview(op, reviewDecision());
    const r = await env.approvals.requestAccess(
      who('olivia', ['oncall']),
      'shop',
      3_600_000,
      'incident\r\x1b[2Knothing to see \u202e',
    );
    await env.approvals.notifier.drain();

    const slack = to('/slack/T000/B000/XXXX');
    assert.equal(slack.length, 2, 'review.created and access.requested');
    for (const d of slack) {
      // The raw bytes of the body: JSON would carry a control character as \u001b, so decode first.
      const text = String((JSON.parse(d.body) as { text: string }).text);
      const bytes = Buffer.from(text, 'utf8');
      for (const b of [0x1b, 0x0d, 0x0a, 0x9b])
        assert.equal(bytes.includes(b), false, `no raw 0x${b.toString(16)} in ${text}`);
      assert.doesNotMatch(
        text,
        /[\u0080-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/u,
        'no C1, bidi, zero-width or separator',
      );
      assert.doesNotMatch(text, /<!channel>|<https:/, 'no Slack mention or link from the data');
    }
    const reviewText = String(
      JSON.parse(slack.find((d) => d.headers['x-warden-event'] === 'review.created')!.body).text,
    );
    assert.match(reviewText, /\\x1b\[2K\\r +operation/, 'the erase and carriage return are shown');
    assert.match(reviewText, /\\u202eelbat\\u202c\\u200b\\u2028\\x9b2J/);
    assert.match(reviewText, /agent-\\x1b\[31mred/, 'names are escaped too');
    assert.match(reviewText, /&lt;!channel&gt;/);
    const accessText = String(
      JSON.parse(slack.find((d) => d.headers['x-warden-event'] === 'access.requested')!.body).text,
    );
    assert.match(accessText, /incident\\r\\x1b\[2Knothing to see \\u202e/);

    const json = to('/json');
    const created = JSON.parse(json.find((d) => d.headers['x-warden-event'] === 'review.created')!.body) as {
      review: { id: string; text: string; requester: { sub: string } };
      display: { text: string; requester: string; reasons: string[] };
    };
    assert.equal(created.review.id, t.id);
    // Notifications carry SQL without its literals (the normalized text), exactly as normalized.
    assert.equal(created.review.text, op.normalized);
    assert.match(created.review.text, /\x1b\[2K\r {2}operation/, 'the data keeps the raw characters');
    assert.equal(created.review.requester.sub, 'agent-\x1b[31mred');
    assert.equal(created.display.text, displayText(op.normalized));
    assert.equal(readDisplayText(created.display.text), op.normalized, 'the display reads back to the data');
    assert.equal(created.display.requester, 'agent-\\x1b[31mred');
    assert.deepEqual(created.display.reasons, ['unbounded-writes: unbounded write']);
    const requested = JSON.parse(json.find((d) => d.headers['x-warden-event'] === 'access.requested')!.body) as {
      request: { id: string; reason: string };
      display: { reason: string; requester: string; connection: string };
    };
    assert.equal(requested.request.id, r.id);
    assert.equal(requested.request.reason, 'incident\r\x1b[2Knothing to see \u202e');
    assert.equal(requested.display.reason, 'incident\\r\\x1b[2Knothing to see \\u202e');
    assert.deepEqual([requested.display.requester, requested.display.connection], ['olivia', 'shop']);
  });

  test('delivery never blocks the operation path, even to a dead endpoint', async () => {
    const dead = await makeEnv({
      config: testConfig({ notifications: { webhooks: [{ url: 'http://127.0.0.1:9/hook' }] } }),
      deps: { webhookRetry: { baseDelayMs: 10, timeoutMs: 500 } },
    });
    try {
      const started = Date.now();
      const t = await dead.approvals.createReview(sqlOp(who('a', ['agents']), 'DELETE FROM x'), reviewDecision());
      assert.equal(t.state, 'pending');
      assert.ok(Date.now() - started < 1000);
      await dead.approvals.notifier.drain();
    } finally {
      await dead.close();
    }
  });
});
