// The one screen `warden demo` prints once it is up: what is running, and commands to paste.
import { relative } from 'node:path';
import { KNOWN_HOSTS_FILE, type RunningDemo } from './start.js';

/** `psql` through the gateway as the demo agent; the token is the password. */
export function demoPsqlCommand(
  demo: Pick<RunningDemo, 'host' | 'pgPort' | 'tokens'>,
  sql = 'SELECT name, email, ssn, card_number FROM customers LIMIT 3',
): string {
  return `psql "postgres://agent:${demo.tokens.agent}@${demo.host}:${demo.pgPort}/shop?sslmode=disable" -c "${sql}"`;
}

export function demoInstructions(demo: RunningDemo, cwd = process.cwd()): string {
  const rel = relative(cwd, demo.dir);
  const dir = rel === '' ? '.' : rel.startsWith('..') ? demo.dir : `./${rel}`;
  const pgFlag = demo.pgPort === 15432 ? '' : ` --gateway-pg ${demo.host}:${demo.pgPort}`;
  const exec = 'npx warden exec shop';
  return `
Warden demo is running (started in ${(demo.startupMs / 1000).toFixed(1)} s; files in ${dir})

  REST API         ${demo.apiUrl}
  PostgreSQL door  ${demo.host}:${demo.pgPort}   database name = connection name: shop
  HTTP door        http://${demo.host}:${demo.httpPort}/billing/…   a demo billing API; only Warden holds its key
  SSH door         ${demo.host}:${demo.sshPort}   user name = connection name: web-1, a demo stand-in host
                   (built-in echo, cat, ls, uptime, whoami, rm over a temp folder, not a shell); only Warden holds its key
  target           embedded PostgreSQL (PGlite) with the sample shop data; only Warden knows its password
  policy           agents see emails, phones, SSNs and card numbers masked; DDL is blocked;
                   an agent's write without WHERE waits for a dba's approval; a dba sees clear values

Tokens from the dev issuer (valid 8 h; more with: npx warden token -c ${dir}/warden.yaml --sub me --groups agents)
  export WARDEN_GATEWAY=${demo.apiUrl}
  export AGENT_TOKEN=${demo.tokens.agent}
  export DBA_TOKEN=${demo.tokens.dba}

Try it in another terminal (after the exports above):
  mask    ${demoPsqlCommand(demo)}
  mask    WARDEN_TOKEN=$AGENT_TOKEN ${exec} "SELECT name, email FROM customers LIMIT 3"
  block   WARDEN_TOKEN=$AGENT_TOKEN ${exec} "DROP TABLE orders"
  review  WARDEN_TOKEN=$AGENT_TOKEN ${exec} "DELETE FROM orders"        (prints the review id)
          WARDEN_TOKEN=$DBA_TOKEN npx warden reviews approve <review-id>
          WARDEN_TOKEN=$AGENT_TOKEN ${exec} "DELETE FROM orders"        (approved: runs once)
  allow   WARDEN_TOKEN=$DBA_TOKEN ${exec} "SELECT name, email FROM customers LIMIT 3"
  no token in the client:  WARDEN_TOKEN=$AGENT_TOKEN npx warden connect shop --port 5433${pgFlag}
                           then: psql -h 127.0.0.1 -p 5433 shop
${demoCurlLines(demo)}
${demoSshLines(demo, dir)}
  audit   WARDEN_TOKEN=$DBA_TOKEN npx warden audit --verify
  (--reset starts over with fresh sample data)

Press Ctrl-C to stop.
`;
}

/** curl through the HTTP front door, one line per outcome (plain HTTP: the demo door is on loopback). */
export function demoCurlLines(demo: Pick<RunningDemo, 'host' | 'httpPort'>): string {
  const base = `http://${demo.host}:${demo.httpPort}/billing`;
  const as = (who: string) => `curl -s -H "Authorization: Bearer $${who}"`;
  return [
    `HTTP (the billing API; the agent's token is all it holds):`,
    `  mask    ${as('AGENT_TOKEN')} ${base}/customers`,
    `  allow   ${as('DBA_TOKEN')} ${base}/customers`,
    `  block   ${as('AGENT_TOKEN')} -X DELETE ${base}/customers/7`,
    `  review  ${as('AGENT_TOKEN')} -H 'content-type: application/json' -d '{"amount": 5000}' ${base}/refunds`,
    `          WARDEN_TOKEN=$DBA_TOKEN npx warden reviews approve <review-id>, then send the same refund again`,
  ].join('\n');
}

/** ssh through the SSH front door (the token is the password, typed by sshpass from the environment). */
export function demoSshLines(demo: Pick<RunningDemo, 'host' | 'sshPort'>, dir: string): string {
  const ssh = (who: string) =>
    `SSHPASS=$${who} sshpass -e ssh -p ${demo.sshPort} -o UserKnownHostsFile=${dir}/${KNOWN_HOSTS_FILE} web-1@${demo.host}`;
  return [
    `SSH (host web-1; the agent's token is all it holds; needs the OpenSSH client and sshpass):`,
    `  mask    ${ssh('AGENT_TOKEN')} 'cat customers.csv'`,
    `  allow   ${ssh('DBA_TOKEN')} 'cat customers.csv'`,
    `  block   ${ssh('AGENT_TOKEN')} 'rm customers.csv'        (exit 126; ls shows it is still there)`,
    `  exec    WARDEN_TOKEN=$AGENT_TOKEN npx warden exec web-1 -- 'cat customers.csv'`,
    `  cert    WARDEN_TOKEN=$AGENT_TOKEN npx warden ssh web-1 --dir ${dir}/ssh -- 'cat customers.csv'   (no token to type)`,
  ].join('\n');
}
