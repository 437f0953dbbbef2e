import type { Command } from 'commander';

export const DEFAULT_CONFIG = process.env.WARDEN_CONFIG ?? 'warden.yaml';

export function withConfig(cmd: Command): Command {
  return cmd.option('-c, --config <file>', 'config file', DEFAULT_CONFIG);
}

/** Options for commands that talk to a running gateway's REST API. */
export function withClient(cmd: Command): Command {
  return cmd
    .option('--gateway <url>', 'gateway API URL (env WARDEN_GATEWAY)', process.env.WARDEN_GATEWAY)
    .option('--token <token>', 'identity token (env WARDEN_TOKEN)')
    .option('--json', 'print JSON');
}
