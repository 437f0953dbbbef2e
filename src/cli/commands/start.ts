import type { Command } from 'commander';
import { loadConfigFile } from '../../config/index.js';
import { startGateway } from '../../server/index.js';
import { withConfig } from '../options.js';

export function registerStart(program: Command): void {
  withConfig(program.command('start').description('run the gateway')).action(async (opts: { config: string }) => {
    const { config } = await loadConfigFile(opts.config);
    const running = await startGateway(config, { defaultMetrics: true });
    process.stderr.write(
      `warden: listening ${Object.entries(running.ports)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')} (api ${running.apiUrl})\n`,
    );
    await waitForSignal();
    await running.close();
  });
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
