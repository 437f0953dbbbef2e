#!/usr/bin/env node
// The soak run: SOAK_SESSIONS concurrent PostgreSQL sessions (default 1000) for SOAK_SECONDS
// (default 60) through a real `warden start` (its own process, so its RSS is its own) in front of
// a real PostgreSQL with the shop sample. Each session loops over a mix — allowed, masked,
// blocked and reviewed statements, a large result some clients walk away from mid-stream — and
// reconnects now and then; halfway, one subject is revoked (its sessions are cut). Then it
// checks and prints: every answered statement has its audit entry (answered ≤ audited ≤ sent),
// the chain verifies offline (and against its checkpoints), every recording line parses, the
// victim's statements after the revocation were refused, gateway RSS at start / peak / after the
// load is gone, and the error lines of the gateway's log by message.
//
//   npm run soak
//   SOAK_SESSIONS=200 SOAK_SECONDS=120 npm run soak
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register();
const pg = (await import('pg')).default;
const { startPostgres } = await import('../test/helpers/postgres.ts');
const { freePort } = await import('../src/gateway/free-port.ts');

const SESSIONS = Number(process.env.SOAK_SESSIONS ?? 1000);
const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
/** RSS after the load may exceed the start by this factor (plus 64 MiB) before the run fails. */
const RSS_SLACK = Number(process.env.SOAK_RSS_SLACK ?? 1.5);
const root = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(root, 'bin', 'warden.js');
const mib = (kb) => `${Math.round(kb / 1024)} MiB`;

function run(args, env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env, WARDEN_QUIET_SOURCE: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function rssKb(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

const dir = await mkdtemp(join(tmpdir(), 'warden-soak-'));
const target = await startPostgres({
  database: 'shop',
  user: 'app',
  seedSql: await readFile(join(root, 'src', 'demo', 'shop.sql'), 'utf8'),
});
let gateway;
let exitCode = 0;
try {
  const apiPort = await freePort('127.0.0.1');
  const pgPort = await freePort('127.0.0.1');
  const config = join(dir, 'warden.yaml');
  await writeFile(
    config,
    `listen: { api: 127.0.0.1:${apiPort}, postgres: 127.0.0.1:${pgPort} }
store: sqlite:${join(dir, 'data', 'warden.db')}
recordings: ${join(dir, 'data', 'recordings')}
dataDir: ${join(dir, 'data')}
admins: [admins]
identity: { dev: true, devTokenTtl: 2h }
limits: { sessionsPerIdentity: 100000, unauthenticatedPerSource: 100000, maxConnections: 100000 }
audit: { checkpoint: { every: 5000, interval: 10s, file: ${join(dir, 'checkpoints.jsonl')} } }
connections:
  shop: { type: postgres, host: 127.0.0.1, port: ${target.port}, database: ${target.database}, user: ${target.user}, password: '\${env:SHOP_PW}', tls: disable }
access:
  - groups: [agents]
    connections: [shop]
rules:
  - name: no-ddl
    when: op.kind == 'sql' && op.sql.kinds.exists(k, k in ['create', 'alter', 'drop', 'truncate'])
    action: block
    message: schema changes are not allowed through Warden
  - name: unbounded-writes-need-review
    when: op.kind == 'sql' && op.sql.writes && !op.sql.allWritesFiltered
    action: review
    approvers: { groups: [dba], count: 1 }
masking:
  - connections: [shop]
    columns: [email, phone, ssn, card_number]
    detect: [email, credit_card, us_ssn, phone, iban, secret]
`,
  );
  const env = { SHOP_PW: target.password };
  let log = '';
  gateway = spawn(process.execPath, [BIN, 'start', '-c', config], {
    env: { ...process.env, ...env, WARDEN_QUIET_SOURCE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  gateway.stdout.on('data', (d) => (log += d));
  gateway.stderr.on('data', (d) => (log += d));
  await new Promise((resolve, reject) => {
    const t = setInterval(() => {
      if (!/warden started/.test(log)) return;
      clearInterval(t);
      resolve();
    }, 100);
    gateway.once('exit', (code) => reject(new Error(`warden start exited ${code}: ${log}`)));
  });
  const token = async (sub, groups) => {
    const r = await run(['token', '--sub', sub, '--groups', groups, '--ttl', '2h', '-c', config], env);
    if (r.code !== 0) throw new Error(r.stderr);
    return r.stdout.trim();
  };
  const agent = await token('soak-agent', 'agents');
  const victim = await token('soak-victim', 'agents');
  const admin = await token('soak-admin', 'admins');

  const rssStart = await rssKb(gateway.pid);
  let rssPeak = rssStart;
  const counts = { sent: 0, answered: 0, rows: 0, refused: 0, vanished: 0, sessions: 0, connectErrors: 0 };
  const victimAfterRevoke = { sent: 0, refused: 0, answered: 0, cut: 0, refusedAtDoor: 0 };
  let revokedAt = 0;
  const deadline = Date.now() + SECONDS * 1000;
  const STATEMENTS = [
    ['SELECT id, amount FROM orders ORDER BY id LIMIT 5', 'allow'],
    ['SELECT name, email, phone FROM customers LIMIT 3', 'mask'],
    ['DROP TABLE orders', 'block'],
    ["UPDATE orders SET status = 'x'", 'review'],
    ['SELECT count(*) FROM orders', 'allow'],
  ];

  async function session(i) {
    const isVictim = i % 50 === 0;
    while (Date.now() < deadline) {
      const c = new pg.Client({
        host: '127.0.0.1',
        port: pgPort,
        user: 'soak',
        password: isVictim ? victim : agent,
        database: 'shop',
      });
      c.on('error', () => {});
      try {
        await c.connect();
      } catch {
        counts.connectErrors++;
        if (isVictim && revokedAt) {
          victimAfterRevoke.refusedAtDoor++; // revoked: refused at the door, as it should be
          return;
        }
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      counts.sessions++;
      try {
        for (let n = 0; n < 20 && Date.now() < deadline; n++) {
          const after = revokedAt > 0 && isVictim;
          if (n === 10 && i % 7 === 3) {
            // Walk away mid-result: the connection is dropped while rows stream.
            counts.sent++;
            c.query('SELECT g, md5(g::text) FROM generate_series(1, 200000) g').catch(() => {});
            await new Promise((r) => setTimeout(r, 20));
            c.connection.stream.destroy();
            counts.vanished++;
            break;
          }
          const [text] = STATEMENTS[(i + n) % STATEMENTS.length];
          counts.sent++;
          if (after) victimAfterRevoke.sent++;
          try {
            const r = await c.query(text);
            counts.answered++;
            counts.rows += r.rowCount ?? 0;
            if (after) victimAfterRevoke.answered++;
          } catch (e) {
            if (!e.code) throw e; // the connection is gone (revocation cut it, or a vanish)
            counts.answered++;
            counts.refused++;
            if (after) victimAfterRevoke.refused++;
          }
        }
      } catch {
        // session cut (by the revocation, for the victim)
        if (isVictim && revokedAt) victimAfterRevoke.cut++;
      } finally {
        await c.end().catch(() => {});
      }
    }
  }

  const sampler = setInterval(async () => {
    rssPeak = Math.max(rssPeak, await rssKb(gateway.pid));
  }, 500);
  // The REST API directly (the CLI's start-up time is not what is being measured).
  const revoker = setTimeout(
    async () => {
      const res = await fetch(`http://127.0.0.1:${apiPort}/api/v1/revocations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ sub: 'soak-victim', reason: 'soak: mid-run revocation' }),
      });
      revokedAt = Date.now();
      if (!res.ok) process.stderr.write(`revoke failed: ${res.status} ${await res.text()}\n`);
      else process.stdout.write(`  revoked soak-victim at ${((revokedAt - started) / 1000).toFixed(1)} s\n`);
    },
    (SECONDS * 1000) / 2,
  );
  const started = Date.now();
  await Promise.all(Array.from({ length: SESSIONS }, (_, i) => session(i)));
  const loadSeconds = (Date.now() - started) / 1000;
  clearTimeout(revoker);
  // Let the gateway settle (sessions closed, buffers released) before the "after" figure.
  await new Promise((r) => setTimeout(r, 5000));
  global.gc?.();
  const rssAfter = await rssKb(gateway.pid);
  clearInterval(sampler);
  gateway.kill('SIGTERM');
  await new Promise((r) => gateway.once('exit', r));

  const verified = await run(
    [
      'audit',
      'verify',
      '--store',
      `sqlite:${join(dir, 'data', 'warden.db')}`,
      '--checkpoints',
      join(dir, 'checkpoints.jsonl'),
      '--json',
    ],
    env,
  );
  const v = JSON.parse(verified.stdout || '{}');
  const SqliteDatabase = (await import('better-sqlite3')).default;
  const db = new SqliteDatabase(join(dir, 'data', 'warden.db'), { readonly: true });
  const audited = db.prepare("SELECT count(*) AS n FROM audit_log WHERE type = 'operation'").get().n;
  const byEffect = db
    .prepare(
      "SELECT json_extract(data, '$.effect') AS effect, count(*) AS n FROM audit_log WHERE type = 'operation' GROUP BY 1",
    )
    .all();
  const sessionsStored = db.prepare('SELECT count(*) AS n, sum(ended_at IS NULL) AS open FROM sessions').get();
  db.close();
  let lines = 0;
  let badLines = 0;
  const recDir = join(dir, 'data', 'recordings');
  const files = await readdir(recDir);
  for (const f of files) {
    for (const line of (await readFile(join(recDir, f), 'utf8')).split('\n')) {
      if (line === '') continue;
      lines++;
      try {
        JSON.parse(line);
      } catch {
        badLines++;
      }
    }
  }
  const errors = new Map();
  for (const line of log.split('\n')) {
    try {
      const e = JSON.parse(line);
      if (e.level >= 50) errors.set(e.msg, (errors.get(e.msg) ?? 0) + 1);
    } catch {}
  }

  const checks = [
    [
      'every answered statement is audited (answered ≤ audited ≤ sent)',
      counts.answered <= audited && audited <= counts.sent,
    ],
    ['the chain verifies, against its checkpoints', v.ok === true],
    ['no session left open', Number(sessionsStored.open) === 0],
    ['every recording line parses', badLines === 0],
    [
      'the revocation cut the victims: nothing they sent after it was answered with rows, and they were refused or cut',
      victimAfterRevoke.answered - victimAfterRevoke.refused === 0 &&
        victimAfterRevoke.refused + victimAfterRevoke.cut + victimAfterRevoke.refusedAtDoor > 0,
    ],
    ['gateway RSS returned near its start', rssAfter <= rssStart * RSS_SLACK + 64 * 1024],
  ];
  process.stdout.write(`
soak: ${SESSIONS} concurrent sessions for ${loadSeconds.toFixed(0)} s
  statements: ${counts.sent} sent, ${counts.answered} answered (${counts.refused} refused by policy/review), ${counts.vanished} clients walked away mid-result, ${Math.round(counts.answered / loadSeconds)} answered/s
  sessions: ${counts.sessions} opened by clients (${counts.connectErrors} connection attempts refused), ${sessionsStored.n} recorded
  audit: ${audited} operation entries ${JSON.stringify(Object.fromEntries(byEffect.map((r) => [r.effect, r.n])))}; chain ${v.ok ? 'verifies' : 'BROKEN'} (${v.checked} entries, ${v.checkpoints?.total ?? 0} checkpoints)
  recordings: ${files.length} files, ${lines} lines, ${badLines} unparsable
  revocation: after it the victims sent ${victimAfterRevoke.sent} (${victimAfterRevoke.refused} refused), ${victimAfterRevoke.cut} sessions cut, ${victimAfterRevoke.refusedAtDoor} reconnects refused
  gateway RSS: start ${mib(rssStart)}, peak ${mib(rssPeak)}, after ${mib(rssAfter)}
  gateway error lines: ${errors.size === 0 ? 'none' : [...errors].map(([m, n]) => `${n}× ${m}`).join('; ')}
`);
  for (const [what, ok] of checks) {
    process.stdout.write(`  ${ok ? 'ok  ' : 'FAIL'} ${what}\n`);
    if (!ok) exitCode = 1;
  }
} catch (e) {
  process.stderr.write(`soak failed: ${e.stack ?? e}\n`);
  exitCode = 1;
} finally {
  if (gateway && gateway.exitCode === null) gateway.kill('SIGKILL');
  await target.stop();
  await rm(dir, { recursive: true, force: true });
}
process.exit(exitCode);
