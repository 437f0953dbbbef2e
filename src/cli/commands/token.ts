import type { Command } from 'commander';
import { loadConfigFile } from '../../config/index.js';
import { parseDuration } from '../../core/duration.js';
import { DevIssuer } from '../../identity/index.js';
import { CliExit } from '../exit.js';
import { withConfig } from '../options.js';

export function registerToken(program: Command): void {
  withConfig(
    program
      .command('token')
      .description('mint a dev-issuer token (identity.dev must be on)')
      .requiredOption('--sub <id>', 'subject')
      .option('--groups <a,b>', 'comma-separated groups', '')
      .option('--ttl <duration>', 'lifetime, e.g. 15m'),
  ).action(async (opts: { config: string; sub: string; groups: string; ttl?: string }) => {
    const { config } = await loadConfigFile(opts.config, { secretsIn: [] }); // needs no target secret
    if (!config.identity.dev)
      throw new CliExit(
        2,
        'warden: the dev issuer is off (identity.dev: false); tokens come from your identity provider',
      );
    let ttlMs: number;
    try {
      ttlMs = parseDuration(opts.ttl ?? config.identity.devTokenTtl);
    } catch (err) {
      throw new CliExit(2, `warden: --ttl: ${(err as Error).message}`);
    }
    const issuer = await DevIssuer.load(config.dataDir, `http://${config.listen.api}/dev`);
    const groups = opts.groups
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean);
    process.stdout.write(`${await issuer.mint({ sub: opts.sub, groups, ttlMs })}\n`);
  });
}
