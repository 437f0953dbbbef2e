// What comes back from the target is masked (values split across output chunks included, the
// recording too), a DBA in unmaskedFor sees clear values; review + hold waits for an approval
// given from another process (the real `warden reviews approve`), and approves once.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runWarden } from '../../helpers/cli.js';
import { type SshGateway, ssh, startSshGateway } from './support.js';

const CSV = 'id,email,card\n1,alice@example.com,4111 1111 1111 1111\n2,bob@example.org,5500-0000-0000-0004\n';

describe('ssh output masking and review holds (real ssh → Warden → sshd)', () => {
  let gw: SshGateway;
  let agent: string;
  let dba: string;

  before(async () => {
    gw = await startSshGateway();
    agent = await gw.token('agent-1', ['agents']);
    dba = await gw.token('dana', ['dba']);
    writeFileSync(join(gw.target.home, 'customers.csv'), CSV, { mode: 0o644 });
  });
  after(() => gw?.stop());

  it('masks emails and card numbers in stdout for an agent', async () => {
    const r = await ssh(gw, agent, 'cat ~/customers.csv');
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /alice@example\.com|bob@example\.org|4111 1111 1111 1111|5500-0000-0000-0004/);
    assert.match(r.stdout, /^id,email,card\n1,/);
    assert.equal(r.stdout.split('\n').length, 4, 'lines kept');
  });

  it('masks stderr, and a value split across two output chunks', async () => {
    const r = await ssh(
      gw,
      agent,
      `printf 'alice@exa' >&2; sleep 0.2; printf 'mple.com\\n' >&2; printf '4111 1111 '; sleep 0.2; printf '1111 1111\\n'`,
    );
    assert.equal(r.status, 0);
    assert.doesNotMatch(r.stderr, /alice@example\.com/);
    assert.doesNotMatch(r.stdout.replace(/\D/g, ''), /4111111111111111/);
  });

  it('a DBA (unmaskedFor) sees clear values', async () => {
    const r = await ssh(gw, dba, 'cat ~/customers.csv');
    assert.equal(r.stdout, CSV);
  });

  it('the recording holds no unmasked value', () => {
    const dir = join(gw.dir, 'recordings');
    const files = readdirSync(dir, { recursive: true }).map(String);
    let text = '';
    for (const f of files) if (f.endsWith('.jsonl')) text += readFileSync(join(dir, f), 'utf8');
    assert.match(text, /"status":0/);
    // The DBA's own session is recorded as the DBA saw it; the agent's never holds a clear value.
    const agentLines = text.split('\n').filter((l) => l.includes('cat ~/customers.csv') || l.includes('"output"'));
    assert.ok(agentLines.length > 0);
    for (const f of files.filter((x) => x.endsWith('.jsonl'))) {
      const body = readFileSync(join(dir, f), 'utf8');
      if (body.includes('"dana"')) continue;
      assert.doesNotMatch(body, /alice@example\.com|4111 1111 1111 1111/, f);
    }
  });

  it('review + hold: the command waits, an approval from another process releases it once', async () => {
    const marker = join(gw.target.home, 'restarted');
    const running = ssh(gw, agent, 'systemctl restart app; touch ~/restarted');
    const review = await pendingReview();
    assert.ok(!existsSync(marker), 'nothing ran while held');
    const approved = await runWarden(['reviews', 'approve', review, '--gateway', gw.running.apiUrl, '--token', dba]);
    assert.equal(approved.code, 0, approved.stderr);
    const r = await running;
    assert.notEqual(r.status, 126, r.stderr);
    assert.doesNotMatch(r.stderr, /warden:/);
    assert.ok(existsSync(marker), 'the approved command ran');
    // The approval was for that one run: the next one needs a new review (Ctrl-C ends its wait).
    const again = new AbortController();
    const second = ssh(gw, agent, 'systemctl restart app; touch ~/restarted', { signal: again.signal });
    const next = await pendingReview();
    assert.notEqual(next, review);
    again.abort();
    await second;
  });

  async function pendingReview(): Promise<string> {
    for (;;) {
      const res = await fetch(`${gw.running.apiUrl}/api/v1/reviews?state=pending`, {
        headers: { authorization: `Bearer ${dba}` },
      });
      const body = (await res.json()) as { reviews?: { id: string }[] } | { id: string }[];
      const list = Array.isArray(body) ? body : (body.reviews ?? []);
      if (list.length > 0) return list[0]!.id;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
});
