// biome-ignore-all lint/performance/useDomNodeTextContent: Playwright locators (innerText is what a person sees), not DOM nodes
// An HTTP operation's review shows what it would do: the method the upstream runs, the path as
// the front door normalised it, the query, where it goes (the connection's upstream URL) and
// the JSON body's field names (not its values) — in the REST API, `warden reviews show`, the
// webhook payloads and the console page in Chromium. With `console.url` set, the JSON and Slack
// webhooks and `warden reviews show` link to the review's console page. The request is sent by
// real curl through the HTTP front door; the webhooks go to a real local HTTP receiver.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { approvalsOf } from '../../../src/approvals/index.js';
import { consoleLink } from '../../../src/approvals/notify.js';
import { runWarden } from '../../helpers/cli.js';
import { curl, type HttpGateway, startHttpGateway, startUpstream, type Upstream } from '../http/support.js';

const CONSOLE_URL = 'https://warden.example.com/console-root/';
const BODY = '{"amount": 5000, "currency": "EUR", "card": "4111 1111 1111 1111"}';

interface Delivery {
  path: string;
  body: Record<string, unknown>;
}

describe('HTTP impact preview, and console links in notifications', () => {
  let up: Upstream;
  let gw: HttpGateway;
  let hook: Server;
  const deliveries: Delivery[] = [];

  before(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        deliveries.push({ path: req.url ?? '', body: JSON.parse(body) as Record<string, unknown> });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const hookBase = `http://127.0.0.1:${(hook.address() as AddressInfo).port}`;
    up = await startUpstream((_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
    gw = await startHttpGateway({
      connections: `  billing:
    type: http
    url: ${up.url}/v1
`,
      policy: `
access:
  - groups: [agents, finance]
    connections: [billing]
  - groups: [oncall]
    connections: [billing]
    jit: true
    approvers: { groups: [finance], count: 1 }
rules:
  - name: refunds-need-review
    groups: [agents]
    when: op.kind == 'http' && op.http.path == '/refunds'
    action: review
    approvers: { groups: [finance], count: 1 }
    message: refunds need finance
console:
  url: ${CONSOLE_URL}
notifications:
  webhooks:
    - url: ${hookBase}/json
      events: [review.created, access.requested]
    - url: ${hookBase}/slack/T0/B0/X
      format: slack
      events: [review.created, access.requested]
`,
    });
  });
  after(async () => {
    await gw?.stop();
    await up?.close();
    await new Promise<void>((r) => hook.close(() => r()));
  });

  it('method, normalised path, query, upstream URL and JSON field names, everywhere the review is shown', async () => {
    const agent = await gw.token('agent-h', ['agents']);
    const finance = await gw.token('fin-h', ['finance']);
    // A path with dot segments and an encoded letter: the review shows what the upstream gets.
    const r = await curl([
      '--cacert',
      gw.gatewayCa,
      '--path-as-is',
      '-H',
      `Authorization: Bearer ${agent}`,
      '-H',
      'content-type: application/json',
      '--data',
      BODY,
      `https://127.0.0.1:${gw.httpPort}/billing/payouts/../%72efunds?dry=0&dry=1&note=a%20b`,
    ]);
    assert.equal(r.status, 403, r.body);
    const id = (JSON.parse(r.body) as { reviewId: string }).reviewId;
    assert.ok(id);

    const res = await fetch(`${gw.apiUrl}/api/v1/reviews/${id}`, { headers: { authorization: `Bearer ${finance}` } });
    const { review } = (await res.json()) as {
      review: { impact: { status: string; verb: string; summary: string; request: Record<string, unknown> } };
    };
    const impact = review.impact;
    assert.equal(impact.status, 'known');
    assert.equal(impact.verb, 'post');
    assert.deepEqual(impact.request, {
      method: 'POST',
      path: '/refunds',
      query: { dry: ['0', '1'], note: 'a b' },
      url: `${up.url}/v1/refunds?dry=0&dry=1&note=a+b`,
      bodyBytes: Buffer.byteLength(BODY),
      jsonFields: ['amount', 'currency', 'card'],
    });
    assert.equal(
      impact.summary,
      `would POST ${up.url}/v1/refunds?dry=0&dry=1&note=a+b (JSON body: amount, currency, card)`,
    );
    assert.doesNotMatch(JSON.stringify(impact), /4111/, 'field names, never values');

    const link = `https://warden.example.com/console-root/#/reviews/${id}`;
    const show = await runWarden(['reviews', 'show', id, '--gateway', gw.apiUrl, '--token', finance]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(
      show.stdout,
      /impact +would POST http:\/\/127\.0\.0\.1:\d+\/v1\/refunds\?dry=0&dry=1&note=a\+b \(JSON body: amount, currency, card\)/,
    );
    assert.ok(show.stdout.includes(`  console    ${link}\n`), show.stdout);

    await approvalsOf(gw.running.gateway.approvals).notifier.drain();
    const json = deliveries.find((d) => d.path === '/json' && (d.body.review as { id: string }).id === id);
    assert.ok(json, 'the JSON webhook was delivered');
    assert.equal(json.body.link, link);
    assert.deepEqual((json.body.review as { impact: { request: unknown } }).impact.request, impact.request);
    const slack = deliveries.find((d) => d.path.startsWith('/slack/') && String(d.body.text).includes(id));
    assert.ok(slack, 'the Slack webhook was delivered');
    const text = String(slack.body.text);
    assert.ok(text.endsWith(` <${link}|Open the review>`), text);
    assert.match(text, /Impact: would POST http:\/\/127\.0\.0\.1:\d+\/v1\/refunds/);
    assert.equal(text.match(/</g)?.length, 1, 'the console link is the only link in the message');

    // An access request links to the console's access page.
    const oncall = await gw.token('otto-h', ['oncall']);
    const asked = await fetch(`${gw.apiUrl}/api/v1/access-requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${oncall}`, 'content-type': 'application/json' },
      body: JSON.stringify({ connection: 'billing', duration: '30m', reason: 'incident 7' }),
    });
    assert.equal(asked.status, 201);
    await approvalsOf(gw.running.gateway.approvals).notifier.drain();
    const access = deliveries.find((d) => d.path === '/json' && d.body.event === 'access.requested');
    assert.equal(access?.body.link, 'https://warden.example.com/console-root/#/access');
    const accessSlack = deliveries.find(
      (d) => d.path.startsWith('/slack/') && String(d.body.text).includes('incident 7'),
    );
    assert.ok(
      String(accessSlack?.body.text).endsWith(
        ' <https://warden.example.com/console-root/#/access|Open access requests>',
      ),
    );

    // The console's review page shows the same resolved request.
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
    try {
      const page = await browser.newPage();
      await page.goto(gw.apiUrl);
      await page.getByLabel('Name').fill('fin-h');
      await page.getByLabel('Groups (comma-separated)').fill('finance');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByTestId('who').waitFor();
      await page.goto(`${gw.apiUrl}/#/reviews/${id}`);
      const req = page.getByTestId('impact-request');
      await req.waitFor();
      const shown = await req.innerText();
      assert.match(shown, /Method\s+POST/);
      assert.match(shown, /Path\s+\/refunds/);
      assert.match(shown, /dry=0\s+dry=1\s+note=a b/);
      assert.match(shown, /JSON fields\s+amount, currency, card/);
      assert.ok(shown.includes(`${up.url}/v1/refunds`));
    } finally {
      await browser.close();
    }
  });

  it('a console link is one Slack link whatever the URL or id hold', () => {
    assert.equal(
      consoleLink('https://w.example/a|b<c>/', { review: 'r_1|<x>' }),
      'https://w.example/a%7Cb%3Cc%3E/#/reviews/r_1%7C%3Cx%3E',
    );
    assert.equal(consoleLink('https://w.example///', 'access'), 'https://w.example/#/access');
  });
});
