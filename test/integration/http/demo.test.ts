// `warden demo`'s HTTP part: the billing API behind the HTTP front door, and the curl lines it
// prints give the four outcomes.
import assert from 'node:assert/strict';
import { exec } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { demoCurlLines, type RunningDemo, startDemo } from '../../../src/demo/index.js';

function sh(cmd: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) =>
    exec(cmd, { env: { ...process.env, ...env } }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
}

describe('warden demo: HTTP', () => {
  let root: string;
  let demo: RunningDemo;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'warden-demo-http-'));
    demo = await startDemo({ dir: join(root, 'demo'), apiPort: 0, pgPort: 0 });
  });

  after(async () => {
    await demo?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('the printed curl lines give mask, allow, block and review', async () => {
    const lines = demoCurlLines(demo).split('\n');
    const line = (outcome: string) => {
      const l = lines.find((x) => x.trimStart().startsWith(`${outcome} `));
      assert.ok(l, outcome);
      return l.trim().slice(outcome.length).trim();
    };
    const env = { AGENT_TOKEN: demo.tokens.agent, DBA_TOKEN: demo.tokens.dba };
    const masked = JSON.parse(await sh(line('mask'), env)) as { email: string; card_number: string }[];
    assert.equal(masked.length, 3);
    assert.notEqual(masked[0]!.email, 'ada@example.com');
    assert.doesNotMatch(JSON.stringify(masked), /4111 1111 1111 1111/);
    const clear = JSON.parse(await sh(line('allow'), env)) as { email: string }[];
    assert.equal(clear[0]!.email, 'ada@example.com');
    const blocked = JSON.parse(await sh(line('block'), env)) as { status: number; rules: string[] };
    assert.equal(blocked.status, 403);
    assert.deepEqual(blocked.rules, ['no-customer-delete']);
    const review = JSON.parse(await sh(line('review'), env)) as { status: number; reviewId: string };
    assert.equal(review.status, 403);
    assert.ok(review.reviewId);
  });
});
