// `warden` command line. Exit codes: 0 ok, 1 operation refused or failed, 2 usage or config error.
import { Command, CommanderError } from 'commander';
import { displayLines, displayText } from '../core/display-text.js';
import { WardenError } from '../core/errors.js';
import { registerAccess } from './commands/access.js';
import { registerAudit } from './commands/audit.js';
import { registerCheck } from './commands/check.js';
import { registerConnect } from './commands/connect.js';
import { registerDemo } from './commands/demo.js';
import { registerExec } from './commands/exec.js';
import { registerLogin } from './commands/login.js';
import { registerPolicy } from './commands/policy.js';
import { registerReviews } from './commands/reviews.js';
import { registerRevoke } from './commands/revoke.js';
import { registerSessions } from './commands/sessions.js';
import { registerSsh } from './commands/ssh.js';
import { registerStart } from './commands/start.js';
import { registerToken } from './commands/token.js';
import { CliExit } from './exit.js';

export function buildProgram(): Command {
  const program = new Command('warden')
    .description('Zero-trust access gateway for autonomous agents')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  for (const register of [
    registerStart,
    registerDemo,
    registerCheck,
    registerToken,
    registerLogin,
    registerExec,
    registerConnect,
    registerPolicy,
    registerReviews,
    registerAccess,
    registerSessions,
    registerAudit,
    registerRevoke,
    registerSsh,
  ]) {
    register(program);
  }
  program.commands.forEach(exitOverrideDeep);
  return program;
}

function exitOverrideDeep(cmd: Command): void {
  cmd.exitOverride();
  cmd.commands.forEach(exitOverrideDeep);
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    process.exitCode = exitCodeFor(err);
  }
}

/** Error texts can quote input or a server's answer: shown escaped (a CliExit is one line; others keep their lines). */
const safeLines = (s: string) => displayLines(s).join('\n');

function exitCodeFor(err: unknown): number {
  if (err instanceof CliExit) {
    if (err.message) process.stderr.write(`${displayText(err.message)}\n`);
    return err.code;
  }
  if (err instanceof CommanderError) {
    // help and version are not errors; commander already printed its message.
    return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof WardenError) {
    process.stderr.write(`warden: ${safeLines(err.message)}\n`);
    return err.code === 'WARDEN_CONFIG_INVALID' ||
      err.code === 'WARDEN_CONFIG_UNREADABLE' ||
      err.code === 'WARDEN_USAGE'
      ? 2
      : 1;
  }
  process.stderr.write(`warden: ${safeLines(err instanceof Error ? err.message : String(err))}\n`);
  if (process.env.WARDEN_DEBUG) console.error(err);
  return 1;
}
