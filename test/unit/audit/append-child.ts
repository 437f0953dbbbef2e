// A process that appends audit entries to the SQLite store named in argv[2] and prints one line
// per acknowledged entry ("ack <seq> <id>"), for the writer-thread tests:
//   flood   append continuously, 20 per turn, until killed
//   one     one append whose promise is the only thing left to wait for, then exit on its own
//   journal append continuously through the journal (instance argv[3]), printing "ack 0 <i>"
import { AuditLog } from '../../../src/audit/index.js';
import { openStore } from '../../../src/store/index.js';

const [url, mode, instance] = process.argv.slice(2) as [string, string, string | undefined];
const store = await openStore(url);
const log = new AuditLog(store, { writerThread: mode !== 'journal' });
const ack = (r: { seq: number; id: string }) => process.stdout.write(`ack ${r.seq} ${r.id}\n`);

if (mode === 'journal') {
  log.useJournal(instance ?? 'child', []);
  process.stdout.write('ready\n');
  let i = 0;
  const turn = () => {
    for (let k = 0; k < 20; k++) {
      const n = i++;
      void log
        .appendDurable({ type: `child.${instance ?? 'child'}`, data: { i: n } })
        .then(() => process.stdout.write(`ack 0 ${n}\n`));
    }
    setImmediate(turn);
  };
  turn();
} else if (mode === 'one') {
  // No await: the pending append alone must keep the process alive until it is durable.
  void log.append({ type: 'child.one', data: { pid: process.pid } }).then(ack);
} else {
  process.stdout.write('ready\n');
  let i = 0;
  const turn = () => {
    for (let k = 0; k < 20; k++) void log.append({ type: 'child.flood', actor: 'child', data: { i: i++ } }).then(ack);
    setImmediate(turn);
  };
  turn();
}
