import type { Command } from 'commander';
import { initAnalysis } from '../../analysis/index.js';
import { loadConfigFile } from '../../config/index.js';
import { displayJson, displayText as t } from '../../core/display-text.js';
import { type PolicyTestResult, policyTest } from '../../gateway/policy-test.js';
import { Policy } from '../../policy/index.js';
import { CliExit } from '../exit.js';
import { withConfig } from '../options.js';

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('policy tools');
  withConfig(
    policy
      .command('test')
      .description('show the decision, rules and reasons for an input, without touching the target')
      .requiredOption('--as <sub[:g1,g2]>', 'identity to test as')
      .option('--json', 'print JSON')
      .argument('<connection>')
      .argument('<input...>'),
  ).action(async (connection: string, input: string[], opts: { config: string; as: string; json?: boolean }) => {
    const { config } = await loadConfigFile(opts.config, { secretsIn: [] }); // decides offline: no target secret
    await initAnalysis();
    const [sub, groupText = ''] = opts.as.split(':');
    if (!sub) throw new CliExit(2, 'warden: --as needs a subject, e.g. --as alice:agents');
    const identity = {
      sub,
      groups: groupText.split(',').filter(Boolean),
      issuer: 'policy-test',
      claims: {},
      expiresAt: Number.MAX_SAFE_INTEGER,
    };
    const result = policyTest(config, new Policy(config), identity, connection, input.join(' '));
    if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else process.stdout.write(formatPolicyTest(result));
  });
}

/** Rule names and messages come from the config, facts from the input: every piece is shown escaped. */
export function formatPolicyTest(r: PolicyTestResult): string {
  const list = (xs: readonly string[]) => xs.map(t).join(', ');
  const lines = [`effect: ${t(r.effect)}`, `rules:  ${r.rules.length ? list(r.rules) : '(none)'}`, 'reasons:'];
  for (const reason of r.reasons)
    lines.push(`  - [${t(reason.code)}]${reason.rule ? ` ${t(reason.rule)}:` : ''} ${t(reason.message)}`);
  if (r.review)
    lines.push(
      `review: ${r.review.count} approval(s) from ${list(r.review.groups)}${r.review.holdMs ? `, held up to ${r.review.holdMs / 1000}s` : ''}`,
    );
  if (r.masking) lines.push(`masking: columns [${list(r.masking.columns)}], detectors [${list(r.masking.detect)}]`);
  lines.push(`facts (${t(r.kind)}):`);
  for (const [k, v] of Object.entries((r.facts ?? {}) as Record<string, unknown>))
    lines.push(`  ${t(k)}: ${displayJson(v)}`);
  return `${lines.join('\n')}\n`;
}
