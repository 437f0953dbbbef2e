import type { Command } from 'commander';
import { CliExit } from '../exit.js';

export function registerConnect(program: Command): void {
  program
    .command('connect')
    .description('connect (arrives with the PostgreSQL front door)')
    .allowUnknownOption()
    .action(() => {
      throw new CliExit(2, 'warden: connect is not available in this build yet');
    });
}
