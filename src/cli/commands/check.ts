import type { Command } from 'commander';
import { checkConfigFile } from '../../config/index.js';
import { displayLines } from '../../core/display-text.js';
import { CliExit } from '../exit.js';
import { withConfig } from '../options.js';

export function registerCheck(program: Command): void {
  withConfig(
    program
      .command('check')
      .description('validate the config; print every error with its YAML path')
      .option(
        '--only <sections>',
        'resolve secret references only under these top-level keys (comma-separated, e.g. identity,rules); the rest is still validated',
      ),
  ).action(async (opts: { config: string; only?: string }) => {
    const only = opts.only
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const result = await checkConfigFile(opts.config, only ? { secretsIn: only } : {});
    if (result.ok) {
      // One line: "<file> is valid; listen: …; connections: …; …"
      process.stdout.write(
        `${result.summary
          .split('\n')
          .map((l) => l.trim())
          .join('; ')}\n`,
      );
      return;
    }
    if (result.issues.length === 1 && !result.issues[0]!.path) {
      throw new CliExit(2, `warden: ${result.issues[0]!.message}`);
    }
    for (const issue of result.issues) {
      process.stderr.write(`${displayLines(`${opts.config}: ${issue.path}: ${issue.message}`).join('\n')}\n`);
    }
    throw new CliExit(2, `${result.issues.length} error${result.issues.length === 1 ? '' : 's'} in ${opts.config}`);
  });
}
