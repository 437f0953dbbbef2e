import type { Command } from 'commander';
import { CliExit } from '../exit.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('demo (arrives with the PostgreSQL front door)')
    .allowUnknownOption()
    .action(() => {
      throw new CliExit(2, 'warden: demo is not available in this build yet');
    });
}
