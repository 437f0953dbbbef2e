// Assemble and start a complete gateway from a loaded config: store, audit, recorder, identity,
// policy, approvals, the API listener and every configured protocol front door.
import { mkdir } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { onParserFailure, setBoundedWriteRows } from '../analysis/index.js';
import { type ApiOptions, buildApi } from '../api/server.js';
import { Approvals } from '../approvals/index.js';
import { AuditLog, Checkpointer, CheckpointSigner } from '../audit/index.js';
import type { WardenConfig } from '../config/schema.js';
import { type Clock, systemClock } from '../core/clock.js';
import { parseDuration } from '../core/duration.js';
import { freePort } from '../gateway/free-port.js';
import { Gateway } from '../gateway/gateway.js';
import { createLogger } from '../gateway/logger.js';
import { GatewayMetrics } from '../gateway/metrics.js';
import { RevocationCache } from '../gateway/revocations.js';
import { loadTlsMaterial } from '../gateway/tls.js';
import { DevIssuer, IdentityVerifier } from '../identity/index.js';
import { Policy } from '../policy/index.js';
import type { EngineInstance, PeerBus, ProtocolServer } from '../protocols/engine.js';
import { ConnectionLimiter } from '../protocols/limits.js';
import { listenFor } from '../protocols/listener.js';
import { protocols } from '../protocols/registry.js';
import { Recorder } from '../recording/index.js';
import { openStore } from '../store/index.js';
import { engineHost } from './engine-host.js';
import { postgresImpactPreviewer } from './impact-postgres.js';
import { claimInstance, closeOrphanedSessions } from './recovery.js';
import type { WorkerPlace } from './workers.js';

export interface StartOptions {
  clock?: Clock;
  logger?: Logger;
  apiPlugins?: ApiOptions['plugins'];
  defaultMetrics?: boolean;
  /** One of the workers of `warden start --workers` (workers.ts): its place and its peers. */
  worker?: { place: WorkerPlace; peers: PeerBus };
}

export interface RunningGateway {
  gateway: Gateway;
  api: FastifyInstance;
  apiUrl: string;
  /** Bound ports by front door name (`api`, `postgres`, …). */
  ports: Record<string, number>;
  devIssuer: DevIssuer | null;
  close(): Promise<void>;
}

export function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}

export async function startGateway(config: WardenConfig, opts: StartOptions = {}): Promise<RunningGateway> {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? createLogger();
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await mkdir(config.recordings, { recursive: true, mode: 0o700 });
  // libpg-query is loaded by the first PostgreSQL session (ProtocolSpec.analysis), not here.
  setBoundedWriteRows(config.limits.boundedWriteRows);
  // Never the SQL text: only what kind of failure, why, and how long the text was.
  onParserFailure((f) =>
    f.kind === 'too-complex'
      ? logger.warn({ parserFailure: f }, 'SQL refused before parsing: over the size or nesting bounds')
      : logger.error({ parserFailure: f }, 'SQL parser failed; parser replaced, that statement refused'),
  );

  const store = await openStore(config.store);
  const audit = new AuditLog(store, { clock });
  // A worker is an instance of its own (its sessions are its own to close after a crash); the
  // other workers' live sessions are not orphans, so only the group's first start closes all.
  const worker = opts.worker?.place;
  const instance = await claimInstance(config.dataDir, worker ? `instance-id.w${worker.index}` : undefined);
  // Before sessions are closed: what a crashed process's journal holds is in audit_log first.
  const journal = audit.useJournal(
    instance.id,
    worker && !worker.first ? (instance.previous ? [instance.previous] : []) : 'all',
    (err) => logger.error({ err }, 'audit journal could not be moved into the store; retrying'),
  );
  if (journal && journal.entries > 0) logger.warn(journal, 'moved in audit entries a previous process journaled');
  if (journal && journal.corrupt.length > 0)
    logger.error(journal, 'audit journal with a damaged line kept as .corrupt');
  await closeOrphanedSessions(store, audit, {
    previous: instance.previous,
    clock,
    logger,
    ...(worker && !worker.first ? { onlyPrevious: true } : {}),
  });
  const checkpointer = new Checkpointer({
    db: store.db,
    signer: await CheckpointSigner.load(config.dataDir),
    committed: () => audit.commits.entries,
    every: config.audit.checkpoint.every,
    intervalMs: parseDuration(config.audit.checkpoint.interval),
    file: config.audit.checkpoint.file,
    webhook: config.audit.checkpoint.webhook,
    logger,
    clock,
  });
  const recorder = new Recorder(config.recordings, store, {
    clock,
    instance: instance.id,
    audit,
    recordingStore: config.recordingStore ?? (store.dialect === 'postgres' ? 'database' : 'files'),
  });
  const revocations = new RevocationCache(store);
  await revocations.start();
  const metrics = new GatewayMetrics({ defaultMetrics: opts.defaultMetrics ?? false });
  const policy = new Policy(config);
  const impact = postgresImpactPreviewer(config, policy);
  const approvals = new Approvals({ config, store, audit, clock, logger, impact });
  await approvals.start();

  // The dev issuer's URL names the API's port, so a port 0 (tests) is resolved to a free port
  // before anything else is built.
  const apiAddr = splitHostPort(config.listen.api);
  const apiPort = apiAddr.port === 0 ? await freePort(apiAddr.host) : apiAddr.port;
  const urlHost = apiAddr.host.includes(':') ? `[${apiAddr.host}]` : apiAddr.host;
  const apiUrl = `http://${urlHost}:${apiPort}`;

  let devIssuer: DevIssuer | null = null;
  const identityConfig = { ...config.identity, issuers: [...config.identity.issuers] };
  if (config.identity.dev) {
    devIssuer = await DevIssuer.load(config.dataDir, `${apiUrl}/dev`);
    identityConfig.issuers.push({ issuer: devIssuer.issuer, audience: 'warden', groupsClaim: 'groups', clockSkew: 30 });
  }
  const verifier = new IdentityVerifier(identityConfig, { clock, ...(devIssuer ? { devIssuer } : {}) });
  const gateway = new Gateway({
    config,
    policy,
    verifier,
    store,
    audit,
    recorder,
    approvals,
    revocations,
    clock,
    logger,
    metrics,
  });
  const ports: Record<string, number> = { api: apiPort };
  const api = await buildApi({ gateway, devIssuer, plugins: opts.apiPlugins ?? [], ports });
  await api.listen({ host: apiAddr.host, port: apiPort });

  const servers: ProtocolServer[] = [];
  /** Engines without a listener of their own (in-process only); a listener closes its engine. */
  const unlistened: EngineInstance[] = [];
  const host = engineHost(gateway, await loadTlsMaterial(config), opts.worker?.peers ?? null);
  // Every front door counts against the same accept limits.
  const limiter = ConnectionLimiter.fromConfig(config.limits);
  for (const spec of protocols()) {
    const address = spec.listen ? config.listen[spec.listen] : undefined;
    const needed = Object.values(config.connections).some((c) => c.type === spec.name);
    if (!spec.engine || (!address && !needed)) continue;
    const engine = (await spec.engine()).create(host);
    // REST exec and MCP run through the engine in-process, whether its door listens or not.
    const inProcess = engine.inProcess?.bind(engine);
    if (inProcess) gateway.inProcessDoors.set(spec.name, inProcess);
    if (address) {
      const { host: h, port } = splitHostPort(address);
      const server = await listenFor(engine, { name: spec.name, host: h, port, limiter, logger });
      servers.push(server);
      ports[spec.name] = server.port;
    } else unlistened.push(engine);
  }
  logger.info(
    { ports, store: config.store.startsWith('sqlite:') ? 'sqlite' : 'postgres', dev: !!devIssuer },
    'warden started',
  );
  await audit.append({ type: 'gateway.start', data: { ports, dev: !!devIssuer } });
  // One checkpointer per gateway: with workers, worker 0's (it counts its own commits).
  if (!worker || worker.index === 0) checkpointer.start();

  let closed = false;
  return {
    gateway,
    api,
    apiUrl,
    ports,
    devIssuer,
    async close() {
      if (closed) return;
      closed = true;
      for (const s of servers) await s.close().catch(() => {});
      for (const e of unlistened) await e.close('gateway shutting down').catch(() => {});
      for (const session of [...gateway.sessions.values()])
        await session.close('gateway shutting down').catch(() => {});
      await api.close().catch(() => {});
      revocations.stop();
      approvals.stop();
      await audit.append({ type: 'gateway.stop', data: {} }).catch(() => {});
      await audit.flush?.();
      await checkpointer.close();
      await audit.close(); // drains and ends the audit writer thread
      await store.close();
    },
  };
}
