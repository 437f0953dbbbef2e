import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  checkConfigFile,
  defaultConfig,
  loadConfigFile,
  parseConfig,
  redactConfig,
} from '../../../src/config/index.js';
import { isWardenError } from '../../../src/core/errors.js';

/** A field of a connection of any type (the config is a union on `type`). */
function field(c: object | undefined, key: string): unknown {
  return (c as Record<string, unknown> | undefined)?.[key];
}

/** `${scheme:arg}` — a config reference (built so no string literal looks like a template). */
const ref = (r: string) => '$' + '{' + r + '}';

const EXAMPLE = fileURLToPath(new URL('../../../examples/warden.yaml', import.meta.url));

function issuesOf(fn: () => unknown): { path: string; message: string; line?: number }[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.code, 'WARDEN_CONFIG_INVALID');
    return e.issues;
  }
  assert.fail('expected a ConfigError');
}

describe('example config', () => {
  const saved = process.env.SHOP_DB_PASSWORD;
  before(() => {
    process.env.SHOP_DB_PASSWORD = 'example-pw-123';
  });
  after(() => {
    if (saved === undefined) delete process.env.SHOP_DB_PASSWORD;
    else process.env.SHOP_DB_PASSWORD = saved;
  });

  it('loads, resolves the password and makes paths absolute next to the file', async () => {
    const loaded = await loadConfigFile(EXAMPLE);
    const cfg = loaded.config;
    assert.equal(loaded.path, EXAMPLE);
    assert.equal(field(cfg.connections.shop, 'password'), 'example-pw-123');
    assert.equal(cfg.connections.shop?.type, 'postgres');
    assert.equal(cfg.listen.postgres, '127.0.0.1:15432');
    assert.equal(cfg.identity.dev, true);
    assert.equal(cfg.identity.issuers[0]?.issuer, 'https://login.example.com');
    const dir = join(EXAMPLE, '..');
    assert.equal(cfg.store, `sqlite:${join(dir, 'warden-data/warden.db')}`);
    assert.equal(cfg.recordings, join(dir, 'warden-data/recordings'));
    assert.deepEqual(
      cfg.access.map((a) => [a.groups, a.jit]),
      [
        [['agents'], false],
        [['oncall'], true],
        [['dba'], false],
      ],
    );
    assert.ok(cfg.rules.some((r) => r.action === 'review' && r.approvers?.groups.includes('dba')));
    assert.deepEqual(cfg.masking[0]?.unmaskedFor, ['dba']);
  });

  it('check prints a summary without the secret', async () => {
    const result = await checkConfigFile(EXAMPLE);
    assert.equal(result.ok, true);
    if (!result.ok) return;
    assert.match(result.summary, /shop \(postgres\)/);
    assert.match(result.summary, /12 rules/);
    assert.doesNotMatch(result.summary, /example-pw-123/);
  });
});

describe('parseConfig issues', () => {
  it('lists every mistake with its path and line: unknown key, wrong type, bad CEL field', () => {
    const text = [
      'listen:',
      '  api: 127.0.0.1:8080',
      'connections:',
      '  shop:',
      '    type: postgres',
      '    port: "5432"',
      '    hostname: db.local',
      'access:',
      '  - groups: [agents]',
      '    connections: [shop]',
      'rules:',
      '  - name: ok-rule',
      "    when: op.kind == 'sql'",
      '    action: allow',
      '  - name: typo',
      "    when: op.kind == 'sql' && op.sql.kindz.exists(k, k == 'drop')",
      '    action: block',
    ].join('\n');
    const issues = issuesOf(() => parseConfig(text, { baseDir: '/tmp', env: {} }));
    const byPath = new Map(issues.map((i) => [i.path, i]));
    assert.equal(issues.length, 3, JSON.stringify(issues));
    assert.match(byPath.get('connections.shop.hostname')?.message ?? '', /unknown key 'hostname'/);
    assert.equal(byPath.get('connections.shop.hostname')?.line, 7);
    assert.match(byPath.get('connections.shop.port')?.message ?? '', /number/);
    assert.equal(byPath.get('connections.shop.port')?.line, 6);
    assert.match(byPath.get('rules[1].when')?.message ?? '', /unknown field 'op\.sql\.kindz'.*rule 'typo'/);
    assert.equal(byPath.get('rules[1].when')?.line, 16);
  });

  it('reports unknown connections, duplicate rule names, review without approvers and syntax errors', () => {
    const text = `
connections:
  shop: { type: postgres }
access:
  - groups: [agents]
    connections: [shop, shpo]
rules:
  - name: r
    when: "true"
    action: review
    connections: [nope]
  - name: r
    when: "op.kind =="
    action: block
masking:
  - connections: [ghost]
    columns: [email]
`;
    const issues = issuesOf(() => parseConfig(text, { baseDir: '/tmp', env: {} }));
    const paths = issues.map((i) => i.path).sort();
    assert.deepEqual(paths, [
      'access[0].connections[1]',
      'masking[0].connections[0]',
      'rules[0].approvers',
      'rules[0].connections[0]',
      'rules[1].name',
      'rules[1].when',
    ]);
    assert.match(issues.find((i) => i.path === 'access[0].connections[1]')?.message ?? '', /unknown connection 'shpo'/);
    assert.match(issues.find((i) => i.path === 'rules[1].name')?.message ?? '', /duplicate rule name 'r'/);
    assert.match(issues.find((i) => i.path === 'rules[1].when')?.message ?? '', /syntax error/);
  });

  it('reports YAML syntax errors with a line', () => {
    const issues = issuesOf(() => parseConfig('listen:\n  api: [unclosed\n', { baseDir: '/tmp' }));
    assert.ok(issues.length >= 1);
    assert.equal(issues[0]?.path, '');
    assert.equal(typeof issues[0]?.line, 'number');
  });

  it('an empty file is the default config', () => {
    const { config } = parseConfig('', { baseDir: '/srv/warden' });
    assert.equal(config.listen.api, '127.0.0.1:8080');
    assert.equal(config.store, 'sqlite:/srv/warden/warden-data/warden.db');
    assert.deepEqual(config.access, []);
  });

  it('defaultConfig() denies everything: no connections, access or rules', () => {
    const cfg = defaultConfig();
    assert.equal(cfg.identity.dev, false);
    assert.deepEqual(cfg.connections, {});
    assert.deepEqual(cfg.access, []);
    assert.equal(cfg.listen.api, '127.0.0.1:8080');
  });
});

describe('secret references', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'warden-config-'));
    writeFileSync(join(dir, 'db-password'), 'file-secret-xyz\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const text = (password: string, token: string) => `
store: postgres://warden:\${env:STORE_PW}@db.internal/warden
connections:
  shop:
    type: postgres
    password: ${password}
  api:
    type: http
    url: https://api.example.com
    token: ${token}
tls: { cert: tls/cert.pem, key: /etc/warden/key.pem }
`;

  it('resolves env: and file: references (files relative to the config folder)', () => {
    const { config } = parseConfig(text(ref('file:./db-password'), `Bearer ${ref('env:API_TOKEN')}`), {
      baseDir: dir,
      env: { STORE_PW: 'store-pw', API_TOKEN: 'tok-123' },
    });
    assert.equal(field(config.connections.shop, 'password'), 'file-secret-xyz');
    assert.equal(field(config.connections.api, 'token'), 'Bearer tok-123');
    assert.equal(config.store, 'postgres://warden:store-pw@db.internal/warden');
    assert.deepEqual(config.tls, { cert: join(dir, 'tls/cert.pem'), key: '/etc/warden/key.pem' });
  });

  it('names a missing reference and its path, never another secret', () => {
    const issues = issuesOf(() =>
      parseConfig(text(ref('file:./missing-file'), ref('env:API_TOKEN')), {
        baseDir: dir,
        env: { STORE_PW: 'store-pw' },
      }),
    );
    assert.deepEqual(issues.map((i) => i.path).sort(), ['connections.api.token', 'connections.shop.password']);
    const token = issues.find((i) => i.path === 'connections.api.token');
    assert.match(token?.message ?? '', /\$\{env:API_TOKEN\}.*not set/);
    assert.equal(token?.line, 10);
    assert.match(issues.find((i) => i.path === 'connections.shop.password')?.message ?? '', /missing-file.*ENOENT/);
    const all = JSON.stringify(issues);
    assert.doesNotMatch(all, /store-pw/);
  });

  it('loadConfigFile on a missing file is WARDEN_CONFIG_UNREADABLE; check reports it', async () => {
    await assert.rejects(loadConfigFile(join(dir, 'nope.yaml')), (e) => isWardenError(e, 'WARDEN_CONFIG_UNREADABLE'));
    const result = await checkConfigFile(join(dir, 'nope.yaml'));
    assert.equal(result.ok, false);
  });

  it('the ConfigError message lists every issue and no resolved value', () => {
    try {
      parseConfig(`connections:\n  shop: { type: postgres, password: "\${env:PW}", port: "\${env:PW}" }\n`, {
        baseDir: dir,
        env: { PW: 'hunter2-secret' },
      });
      assert.fail('expected an error');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /connections\.shop\.port/);
      assert.doesNotMatch(e.message, /hunter2-secret/);
      assert.doesNotMatch(JSON.stringify(e.issues), /hunter2-secret/);
    }
  });
});

describe('redactConfig', () => {
  it('replaces passwords, tokens, private keys, secrets, headers and URL passwords with ***', () => {
    const { config } = parseConfig(
      `
store: postgres://warden:store-pw@db/warden
connections:
  shop: { type: postgres, user: app, password: pg-pw }
  box: { type: ssh, privateKey: "-----BEGIN KEY-----", hostKey: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }
  api: { type: http, url: https://x.example, token: tok, headers: { Authorization: Bearer zzz } }
notifications:
  webhooks:
    - { url: https://hooks.example/x, secret: hook-secret }
`,
      { baseDir: '/tmp' },
    );
    const red = redactConfig(config);
    const text = JSON.stringify(red);
    for (const secret of ['store-pw', 'pg-pw', 'BEGIN KEY', 'tok"', 'Bearer zzz', 'hook-secret']) {
      assert.ok(!text.includes(secret), `${secret} leaked`);
    }
    assert.equal(field(red.connections.shop, 'password'), '***');
    assert.equal(field(red.connections.shop, 'user'), 'app');
    assert.equal(field(red.connections.box, 'hostKey'), 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    assert.equal(red.store, 'postgres://warden:***@db/warden');
    // the original is untouched
    assert.equal(field(config.connections.shop, 'password'), 'pg-pw');
  });
});

describe('secrets resolved only where a command needs them', () => {
  const yaml = `
identity: { dev: true }
connections:
  shop: { type: postgres, host: 127.0.0.1, password: "\${env:WARDEN_TEST_UNSET_SECRET}" }
`;
  it('a missing secret of a connection is an issue for the gateway, not for a command that reads identity only', () => {
    assert.throws(() => parseConfig(yaml, { baseDir: '/tmp', env: {} }), /WARDEN_TEST_UNSET_SECRET/);
    const loaded = parseConfig(yaml, { baseDir: '/tmp', env: {}, secretsIn: [] });
    assert.equal(loaded.config.identity.dev, true);
    assert.equal(field(loaded.config.connections.shop, 'password'), '');
  });
  it('references under the named keys are still resolved and checked', () => {
    const withIdentity = parseConfig(yaml, {
      baseDir: '/tmp',
      env: { WARDEN_TEST_UNSET_SECRET: 's3' },
      secretsIn: ['connections'],
    });
    assert.equal(field(withIdentity.config.connections.shop, 'password'), 's3');
  });
});
