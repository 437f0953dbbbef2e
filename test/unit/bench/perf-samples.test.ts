import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  functionOf,
  kindOf,
  mainThread,
  ownerOf,
  parsePerfScript,
  shares,
  slicePhases,
} from '../../../bench/pg/perf-samples.js';

// Shaped like `perf script -F tid,ip,sym` after `perf inject --jit` (leaf first, blank line between samples).
const SCRIPT = `27035 
\t    ffffffff81a2 _raw_spin_unlock_irqrestore
\t    ffffffff81a3 tcp_sendmsg_locked
\t    ffffffff81a4 sock_write_iter
\t          14cd40 __GI___libc_write
\t    7fd598083793 JS:*writeOrBuffer node:internal/streams/writable:548:23
\t    7fd598083800 JS:*flush file:///tmp/warden-bench-gw-x/js/src/protocols/relay/outbound.js:16:10

27035 
\t    7fd598083901 JS:*decide file:///tmp/warden-bench-gw-x/js/src/policy/policy.js:124:11

27035 
\t          a1b2c3 v8::internal::JsonStringifier::SerializeString
\t          a1b2c4 v8::internal::JsonStringify
\t    7fd598083a00 JS:*writeEvent file:///tmp/warden-bench-gw-x/js/src/recording/recorder.js:214:15

27035 
\t          b1b2c3 sqlite3VdbeExec
\t          b1b2c4 Statement::JS_run
\t    7fd598083b00 JS:*appendRows file:///tmp/warden-bench-gw-x/js/src/audit/sqlite-append.js:35:15
\t    7fd598083b01 JS:^sqliteTransaction /work/main/node_modules/better-sqlite3/lib/methods/transaction.js:52:131

27040 
\t          c1b2c3 v8::internal::Scavenger::ScavengeObject
`;

test('perf samples: parsed leaf first, the busiest thread is the event loop', () => {
  const samples = parsePerfScript(SCRIPT);
  assert.equal(samples.length, 5);
  assert.deepEqual(samples[1]!.frames, ['JS:*decide file:///tmp/warden-bench-gw-x/js/src/policy/policy.js:124:11']);
  assert.equal(mainThread(samples), 27035);
});

test('perf samples: kinds and owners', () => {
  const samples = parsePerfScript(SCRIPT);
  const main = mainThread(samples);
  assert.deepEqual(
    samples.map((s) => kindOf(s, main)),
    ['kernel: sockets', 'JIT-compiled JavaScript', 'JSON.stringify', 'SQLite', 'other threads (GC, compiler)'],
  );
  // The nearest JavaScript frame owns what ran under it (a socket write's kernel time included).
  assert.deepEqual(
    samples.map((s) => ownerOf(s, main)),
    ['node: streams', 'src/policy', 'src/recording', 'src/audit', 'other threads'],
  );
  // By function: the nearest JavaScript frame, its path shortened to the tree's own folders.
  assert.deepEqual(
    samples.map((s) => functionOf(s, main)),
    [
      'writeOrBuffer node:internal/streams/writable:548',
      'decide src/policy/policy.js:124',
      'writeEvent src/recording/recorder.js:214',
      'appendRows src/audit/sqlite-append.js:35',
      'other threads',
    ],
  );
  const byOwner = shares(samples, (s) => ownerOf(s, main));
  assert.equal(byOwner.length, 5);
  assert.ok(byOwner.every(([, share]) => share === 0.2));
});

// Shaped like `perf script -F tid,time,event,trace,ip,sym` with scheduler tracepoints recorded.
const TIMED = `700  10.000100: sched:sched_switch: prev_comm=node prev_pid=700 prev_prio=120 prev_state=S ==> next_comm=swapper/1 next_pid=0 next_prio=120
\t    ffffffff8224 __schedule

700  10.000300:          cpu-clock:ppp: 
\t    7fd598083901 JS:*decide file:///tmp/warden-bench-gw-x/js/src/policy/policy.js:124:11

700  10.000350: sched:sched_waking: comm=node pid=702 prio=120 target_cpu=001
\t    ffffffff8225 try_to_wake_up

700  10.000400:          cpu-clock:ppp: 
\t    7fd598083902 JS:*query file:///tmp/warden-bench-gw-x/js/src/protocols/postgres/forwarding.js:32:8

700  10.000500: sched:sched_waking: comm=postgres pid=900 prio=120 target_cpu=000
\t    ffffffff8225 try_to_wake_up

700  10.000600:          cpu-clock:ppp: 
\t    7fd598083a00 JS:*writeEvent file:///tmp/warden-bench-gw-x/js/src/recording/recorder.js:214:15

701  10.000650:          cpu-clock:ppp: 
\t          c1b2c3 v8::internal::Scavenger::ScavengeObject

700  10.000700: sched:sched_switch: prev_comm=node prev_pid=700 prev_prio=120 prev_state=S ==> next_comm=swapper/1 next_pid=0 next_prio=120
\t    ffffffff8224 __schedule

700  10.000900:          cpu-clock:ppp: 
\t    7fd598083b00 JS:*handle file:///tmp/warden-bench-gw-x/js/src/protocols/postgres/server-pump.js:41:11

700  10.000950: sched:sched_waking: comm=pgbench pid=800 prio=120 target_cpu=001
\t    ffffffff8225 try_to_wake_up

700  10.001000: sched:sched_switch: prev_comm=node prev_pid=700 prev_prio=120 prev_state=S ==> next_comm=swapper/1 next_pid=0 next_prio=120
\t    ffffffff8224 __schedule

700  10.002000:          cpu-clock:ppp: 
\t    7fd598083b01 JS:*ingest file:///tmp/warden-bench-gw-x/js/src/audit/journal.js:152:11
`;

test('perf samples: timed records keep their event and fields; phases split at the first wake-up of another process', () => {
  const records = parsePerfScript(TIMED);
  assert.equal(records.length, 12);
  assert.equal(records[2]!.event, 'sched:sched_waking');
  assert.equal(records[2]!.at, 10.00035);
  assert.match(records[2]!.trace!, /^comm=node pid=702/);
  assert.equal(records[1]!.event, 'cpu-clock:ppp');
  const phases = slicePhases(records, 700, (trace) => /\bcomm=(?:postgres|pgbench)\b/.test(trace));
  // The wake-up of one of the gateway's own threads does not end the path; PostgreSQL's does,
  // until the thread sleeps again.
  assert.deepEqual(
    phases.before.map((s) => functionOf(s, 700)),
    [
      'decide src/policy/policy.js:124',
      'query src/protocols/postgres/forwarding.js:32',
      'handle src/protocols/postgres/server-pump.js:41',
    ],
  );
  assert.deepEqual(
    phases.after.map((s) => functionOf(s, 700)),
    ['writeEvent src/recording/recorder.js:214'],
  );
  assert.equal(phases.other.length, 1);
  // The last slice woke no one: neither on the path nor after a wake-up.
  assert.deepEqual(
    phases.unwoken.map((s) => functionOf(s, 700)),
    ['ingest src/audit/journal.js:152'],
  );
});
