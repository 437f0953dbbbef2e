// `warden start --workers N`: N gateway processes (node:cluster) sharing the listeners, the
// store and its one audit chain. Each worker is a whole gateway (startGateway) with an instance
// of its own; what crosses processes already goes through the store (review holds, revocations,
// the audit chain under the store's write lock, recordings), and the one thing that does not — a
// PostgreSQL CancelRequest, which arrives on a new connection that may land on another worker —
// is relayed by the primary to the other workers (PeerBus).
//
// The primary only supervises: it resolves port 0 to free ports (so every worker listens on the
// same ones), starts worker 0 alone (first-run files such as keys and migrations are made once),
// then the rest, and starts a worker again when one dies (kill -9: the others keep serving; the
// new one closes the sessions its predecessor left open). SIGINT/SIGTERM stop every worker.
import cluster, { type Worker } from 'node:cluster';
import { freePort } from '../gateway/free-port.js';
import type { PeerBus } from '../protocols/engine.js';
import { splitHostPort } from './start.js';

/** A worker's place in the group (set by the primary in its environment). */
export interface WorkerPlace {
  index: number;
  /** The group's first start of worker 0: nothing else of this gateway runs yet. */
  first: boolean;
}

const ENV_INDEX = 'WARDEN_WORKER_INDEX';
const ENV_FIRST = 'WARDEN_WORKER_FIRST';
const ENV_LISTEN = 'WARDEN_WORKER_LISTEN';
const RESTART_DELAY_MS = 500;
/** A worker that dies within this of its start is restarted ever later (doubling, up to MAX). */
const QUICK_DEATH_MS = 10_000;
const MAX_RESTART_DELAY_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

/** This process's place when it is a worker of `warden start --workers`; null otherwise. */
function workerPlace(): WorkerPlace | null {
  const index = process.env[ENV_INDEX];
  if (!cluster.isWorker || index === undefined) return null;
  return { index: Number(index), first: process.env[ENV_FIRST] === '1' };
}

/**
 * In a worker of `warden start --workers`: takes the listen addresses the primary resolved into
 * `config` and returns what startGateway needs to run as that worker (StartOptions.worker);
 * undefined in any other process.
 */
export function joinWorkerGroup(config: {
  listen: Record<string, string | undefined>;
}): { place: WorkerPlace; peers: PeerBus } | undefined {
  const place = workerPlace();
  if (!place) return undefined;
  const listen = process.env[ENV_LISTEN];
  if (listen) Object.assign(config.listen, JSON.parse(listen) as Record<string, string>);
  return { place, peers: clusterPeers() };
}

/** What a worker tells the primary once it serves. */
export interface WorkerReady {
  ports: Record<string, number>;
  apiUrl: string;
}

interface PeerEnvelope {
  t: 'peer';
  protocol: string;
  message: unknown;
}

function isPeerEnvelope(m: unknown): m is PeerEnvelope {
  return typeof m === 'object' && m !== null && (m as { t?: unknown }).t === 'peer';
}

/** In a worker: messages to the same protocol's engine in every other worker, through the primary. */
function clusterPeers(): PeerBus {
  const handlers = new Map<string, (message: unknown) => void>();
  process.on('message', (m: unknown) => {
    if (isPeerEnvelope(m)) handlers.get(m.protocol)?.(m.message);
  });
  return {
    send(protocol, message) {
      if (process.connected) process.send?.({ t: 'peer', protocol, message } satisfies PeerEnvelope);
    },
    on(protocol, handler) {
      handlers.set(protocol, handler);
    },
  };
}

/** In a worker: report that it serves. */
export function reportReady(ready: WorkerReady): void {
  process.send?.({ t: 'ready', ...ready });
}

export interface RunningWorkers {
  ready: WorkerReady;
  /** Worker pids by index (changes when a worker is started again). */
  pids(): number[];
  stop(): Promise<void>;
}

/** In the primary: start `count` workers running this same command, and keep them running. */
export async function runWorkers(opts: {
  count: number;
  listen: Record<string, string | undefined>;
  log: (line: string) => void;
}): Promise<RunningWorkers> {
  const listen: Record<string, string> = {};
  for (const [name, address] of Object.entries(opts.listen)) {
    if (!address) continue;
    // `host:0` becomes one free port for all (publicUrl and fixed ports stay as written).
    if (!address.endsWith(':0')) {
      listen[name] = address;
      continue;
    }
    const { host } = splitHostPort(address);
    listen[name] = `${host.includes(':') ? `[${host}]` : host}:${await freePort(host)}`;
  }
  const workers: (Worker | undefined)[] = new Array(opts.count).fill(undefined);
  let stopping = false;

  const delays: number[] = new Array(opts.count).fill(RESTART_DELAY_MS);
  const start = (index: number, first: boolean): Promise<WorkerReady> => {
    const startedAt = Date.now();
    const worker = cluster.fork({
      [ENV_INDEX]: String(index),
      [ENV_FIRST]: first ? '1' : '0',
      [ENV_LISTEN]: JSON.stringify(listen),
    });
    workers[index] = worker;
    worker.on('message', (m: unknown) => {
      // A peer message goes to every other live worker.
      if (isPeerEnvelope(m)) for (const w of workers) if (w && w !== worker && w.isConnected()) w.send(m);
    });
    worker.once('exit', (code, signal) => {
      if (workers[index] === worker) workers[index] = undefined;
      if (stopping) return;
      // One that keeps dying at start (a broken target, a full disk) is not restarted in a tight loop.
      const quick = Date.now() - startedAt < QUICK_DEATH_MS;
      const delay = quick ? delays[index]! : RESTART_DELAY_MS;
      delays[index] = quick ? Math.min(delay * 2, MAX_RESTART_DELAY_MS) : RESTART_DELAY_MS;
      opts.log(`warden: worker ${index} (pid ${worker.process.pid}) exited (${signal ?? code}); starting it again`);
      setTimeout(() => {
        if (stopping) return;
        start(index, false).then(
          () => opts.log(`warden: worker ${index} (pid ${workers[index]?.process.pid}) serving again`),
          (e: unknown) => opts.log(`warden: worker ${index}: ${String(e)}`),
        );
      }, delay).unref();
    });
    return new Promise<WorkerReady>((resolve, reject) => {
      const onExit = (code: number | null, signal: string | null) =>
        reject(new Error(`worker ${index} exited before it was ready (${signal ?? code})`));
      worker.once('exit', onExit);
      worker.on('message', (m: { t?: string } & WorkerReady) => {
        if (m?.t !== 'ready') return;
        worker.off('exit', onExit);
        resolve({ ports: m.ports, apiUrl: m.apiUrl });
      });
    });
  };

  const stop = async (): Promise<void> => {
    stopping = true;
    await Promise.all(
      workers.map(async (w) => {
        if (!w || w.isDead()) return;
        const exited = new Promise<void>((r) => w.once('exit', () => r()));
        w.process.kill('SIGTERM');
        const timer = setTimeout(() => w.process.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }),
    );
  };

  try {
    const ready = await start(0, true);
    await Promise.all(Array.from({ length: opts.count - 1 }, (_, i) => start(i + 1, false)));
    return { ready, pids: () => workers.map((w) => w?.process.pid ?? 0), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
