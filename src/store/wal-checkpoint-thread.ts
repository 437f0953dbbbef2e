// The WAL checkpoint thread (started by wal-checkpointer.ts): its own connection to the store's
// file, copying committed WAL frames into the database off the gateway's event loop. Each
// "checkpoint" message runs a PASSIVE checkpoint (it takes no lock writers wait for); when the
// WAL has grown past `restartFrames` anyway — writes kept landing while it copied, so it never
// caught up and the WAL could not start over — a RESTART checkpoint follows, which holds writers
// back for the few frames left and lets the next commit start the WAL from its beginning.
// Replies { log, checkpointed, restarted } or { error }. "close" closes the connection.
import { parentPort, workerData } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';

export interface CheckpointThreadData {
  path: string;
  restartFrames: number;
}

export type CheckpointReply = { log: number; checkpointed: number; restarted: boolean } | { error: string };

const port = parentPort;
if (!port) throw new Error('wal-checkpoint-thread.ts runs as a worker thread');
const { path, restartFrames } = workerData as CheckpointThreadData;

const database = new SqliteDatabase(path, { fileMustExist: true });
database.pragma('busy_timeout = 5000');
database.pragma('wal_autocheckpoint = 0');

interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

port.on('message', (msg: 'checkpoint' | 'close') => {
  if (msg === 'close') {
    database.close();
    port.close();
    return;
  }
  try {
    const [passive] = database.pragma('wal_checkpoint(PASSIVE)') as CheckpointResult[];
    const restart = (passive?.log ?? 0) >= restartFrames;
    if (restart) database.pragma('wal_checkpoint(RESTART)');
    port.postMessage({ log: passive?.log ?? 0, checkpointed: passive?.checkpointed ?? 0, restarted: restart });
  } catch (e) {
    port.postMessage({ error: (e as Error).message });
  }
});
