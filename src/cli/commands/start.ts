import cluster from 'node:cluster';
import type { Command } from 'commander';
import { loadConfigFile } from '../../config/index.js';
import { releaseYoungGeneration } from '../../core/young-generation.js';
import { startGateway } from '../../server/index.js';
import { joinWorkerGroup, reportReady, runWorkers } from '../../server/workers.js';
import { withConfig } from '../options.js';

export function registerStart(program: Command): void {
  withConfig(program.command('start').description('run the gateway'))
    .option('--workers <n>', 'gateway processes sharing the listeners, the store and one audit chain', '1')
    .action(async (opts: { config: string; workers: string }) => {
      const workers = Number(opts.workers);
      if (!Number.isInteger(workers) || workers < 1 || workers > 64)
        throw new Error(`--workers must be a whole number from 1 to 64 (got ${opts.workers})`);
      const { config } = await loadConfigFile(opts.config);
      if (workers > 1 && cluster.isPrimary) {
        const group = await runWorkers({
          count: workers,
          listen: config.listen,
          log: (line) => process.stderr.write(`${line}\n`),
        });
        process.stderr.write(
          `warden: listening ${listening(group.ready.ports)} (api ${group.ready.apiUrl}; ${workers} workers, pids ${group.pids().join(' ')})\n`,
        );
        await waitForSignal();
        await group.stop();
        // The cluster's listening handles live in the primary: they do not let it exit by themselves.
        process.exit(0);
      }
      const worker = joinWorkerGroup(config);
      const running = await startGateway(config, { defaultMetrics: true, ...(worker ? { worker } : {}) });
      releaseYoungGeneration();
      if (worker) {
        reportReady({ ports: running.ports, apiUrl: running.apiUrl });
        // The primary gone (killed): nothing supervises this worker any more.
        process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
      } else process.stderr.write(`warden: listening ${listening(running.ports)} (api ${running.apiUrl})\n`);
      await waitForSignal();
      await running.close();
      if (worker) process.exit(0);
    });
}

function listening(ports: Record<string, number>): string {
  return Object.entries(ports)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

export function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}
