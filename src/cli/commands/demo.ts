import type { Command } from 'commander';
import { isWardenError } from '../../core/errors.js';
import { DEMO_DEFAULTS } from '../../demo/defaults.js';
import type { DemoStep, RunningDemo } from '../../demo/index.js';
import { CliExit } from '../exit.js';
import { waitForSignal } from './start.js';

const STEP_TEXT: Record<DemoStep, string> = {
  target: 'starting the embedded PostgreSQL (PGlite; the first start runs initdb and takes a while)',
  sample: 'loading the sample shop data',
  gateway: 'starting the gateway (SQLite store, dev issuer, sample policy)',
};

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'run a complete gateway on embedded defaults (embedded PostgreSQL with sample data, dev issuer, sample policy) and print ready-to-paste commands',
    )
    .option('--dir <path>', 'demo folder (store, recordings, keys, database files)', DEMO_DEFAULTS.dir)
    .option('--api-port <port>', 'REST API port (0 = any free port)', port, DEMO_DEFAULTS.apiPort)
    .option('--pg-port <port>', 'PostgreSQL front door port (0 = any free port)', port, DEMO_DEFAULTS.pgPort)
    .option('--reset', 'start over: empty the demo folder first')
    .action(async (opts: { dir: string; apiPort: number; pgPort: number; reset?: boolean }) => {
      const err = process.stderr;
      let demo: RunningDemo;
      let lineOpen = false;
      // Loaded here, not at start-up: PGlite and the demo's targets are for this command only.
      const { startDemo, demoInstructions } = await import('../../demo/index.js');
      try {
        demo = await startDemo({
          dir: opts.dir,
          apiPort: opts.apiPort,
          pgPort: opts.pgPort,
          reset: !!opts.reset,
          onProgress: (step, done, ms) => {
            lineOpen = !done;
            err.write(done ? ` done (${((ms ?? 0) / 1000).toFixed(1)} s)\n` : `warden demo: ${STEP_TEXT[step]}…`);
          },
        });
      } catch (e) {
        if (lineOpen) err.write(' failed\n');
        if (isWardenError(e, 'WARDEN_USAGE') && e.detail.which) {
          const flag = e.detail.which === 'api' ? '--api-port' : '--pg-port';
          throw new CliExit(
            2,
            `warden demo: ${e.message}; stop what uses it or choose another port with ${flag} N (0 = any free port)`,
          );
        }
        throw e;
      }
      process.stdout.write(demoInstructions(demo));
      await waitForSignal();
      err.write('warden demo: stopping…');
      await demo.close();
      err.write(' stopped\n');
    });
}

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new CliExit(2, `warden demo: not a port: ${value}`);
  return n;
}
