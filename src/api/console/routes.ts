// The reviewer web console: static files from web/ at `/`, the few ES modules it imports from
// node_modules (preact, htm) under /console/vendor/, asciinema-player's ES modules and style
// (terminal replay) under /console/vendor/asciinema/, and, with the dev issuer on (the demo), a
// sign-in endpoint that mints a dev token for a name and groups the visitor picks. Everything
// else the console does goes through /api/v1 with the signed-in user's bearer token.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { parseDuration } from '../../core/duration.js';
import type { Gateway } from '../../gateway/index.js';
import type { DevIssuer } from '../../identity/index.js';
import { PUBLIC_BODY_LIMIT } from '../auth.js';
import { problem, sendProblem } from '../problem.js';

/** web/ at the repository root: the same relative place from src/api/console and dist/api/console. */
const WEB = fileURLToPath(new URL('../../../web/', import.meta.url));
const require = createRequire(import.meta.url);
/** Served name → [package entry, its ES module file beside that entry]; resolved on first use. */
const VENDOR: Record<string, [string, string]> = {
  'preact.js': ['preact', 'preact.module.js'],
  'hooks.js': ['preact/hooks', 'hooks.module.js'],
  'htm.js': ['htm', 'htm.module.js'],
  'asciinema-player.css': ['asciinema-player/dist/bundle/asciinema-player.css', 'asciinema-player.css'],
};

/**
 * asciinema-player's ES build: its entry and the chunks it imports by relative name (hashed per
 * release), so the served set is what its dist folder holds, read once.
 */
let asciinema: { dir: string; files: Set<string> } | undefined;
function asciinemaPath(file: string): string | undefined {
  if (!asciinema) {
    try {
      const dir = dirname(require.resolve('asciinema-player'));
      asciinema = { dir, files: new Set(readdirSync(dir).filter((f) => /^[A-Za-z0-9_-]+\.js$/.test(f))) };
    } catch {
      asciinema = { dir: '', files: new Set() };
    }
  }
  return asciinema.files.has(file) ? join(asciinema.dir, file) : undefined;
}

function vendorPath(file: string): string | undefined {
  if (!Object.hasOwn(VENDOR, file)) return undefined;
  const [entry, module] = VENDOR[file]!;
  try {
    return join(dirname(require.resolve(entry)), module);
  } catch {
    return undefined;
  }
}
const FILES = new Set(['index.html', 'app.js', 'api.js', 'oidc.js', 'pages.js', 'style.css']);
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};
const NAME = /^[A-Za-z0-9._@-]{1,64}$/;

/** The page's one inline script is its import map: allowed by its hash, nothing else inline. */
function importMapHash(): string {
  let page = '';
  try {
    page = readFileSync(join(WEB, 'index.html'), 'utf8');
  } catch {
    // No web/ next to the code: `/` answers 404 (see serve), the API itself is unaffected.
  }
  const map = /<script type="importmap">([\s\S]*?)<\/script>/.exec(page)?.[1] ?? '';
  return `'sha256-${createHash('sha256').update(map).digest('base64')}'`;
}

export function registerConsole(app: FastifyInstance, gw: Gateway, dev: DevIssuer | null): void {
  const publicRoute = { config: { auth: 'public' as const }, bodyLimit: PUBLIC_BODY_LIMIT };
  // The browser talks to the issuer for discovery and the code exchange (PKCE): that origin only.
  const issuerOrigin = gw.config.console?.issuer ? new URL(gw.config.console.issuer).origin : '';
  // 'wasm-unsafe-eval': asciinema-player's terminal emulator is WebAssembly; it allows compiling
  // that, not eval of script text.
  const csp = `default-src 'self'; connect-src 'self'${issuerOrigin ? ` ${issuerOrigin}` : ''}; script-src 'self' ${importMapHash()} 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`;
  const serve = async (reply: FastifyReply, path: string) => {
    const body = await readFile(path).catch(() => null);
    if (!body) return sendProblem(reply, problem(404, 'Not Found', 'the console is not installed'));
    const type = TYPES[extname(path)] ?? 'application/octet-stream';
    // Only this origin's scripts and styles; the API answers the same origin.
    return reply
      .header('content-type', type)
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('content-security-policy', csp)
      .send(body);
  };
  app.get('/', publicRoute, (_req, reply) => serve(reply, join(WEB, 'index.html')));
  app.get<{ Params: { file: string } }>('/console/:file', publicRoute, async (req, reply) => {
    if (!FILES.has(req.params.file)) return sendProblem(reply, problem(404, 'Not Found', 'no such console file'));
    return serve(reply, join(WEB, req.params.file));
  });
  app.get<{ Params: { file: string } }>('/console/vendor/:file', publicRoute, async (req, reply) => {
    const path = vendorPath(req.params.file);
    if (!path) return sendProblem(reply, problem(404, 'Not Found', 'no such console file'));
    return serve(reply, path);
  });
  app.get<{ Params: { file: string } }>('/console/vendor/asciinema/:file', publicRoute, async (req, reply) => {
    const path = asciinemaPath(req.params.file);
    if (!path) return sendProblem(reply, problem(404, 'Not Found', 'no such console file'));
    return serve(reply, path);
  });
  // What the sign-in page and `warden login` use: the dev sign-in (demo) or an OIDC issuer (config `console`).
  app.get('/console/config.json', publicRoute, async () => ({
    dev: !!dev,
    // The console's public URL (links in notifications and `warden reviews show`).
    ...(gw.config.console?.url ? { url: gw.config.console.url } : {}),
    ...(gw.config.console?.issuer
      ? {
          issuer: gw.config.console.issuer,
          clientId: gw.config.console.clientId,
          // `warden login` signs in here too, as its own public (native) client when one is named.
          ...(gw.config.console.cliClientId ? { cliClientId: gw.config.console.cliClientId } : {}),
          ...(gw.config.console.resource ? { resource: gw.config.console.resource } : {}),
        }
      : {}),
  }));

  if (!dev) return;
  const ttlMs = parseDuration(gw.config.identity.devTokenTtl);
  // The demo's sign-in: anyone who reaches it may be anyone, as with `warden token`, so it
  // answers loopback clients only.
  app.post<{ Body: { sub?: unknown; groups?: unknown } }>('/console/dev-token', publicRoute, async (req, reply) => {
    const from = req.socket.remoteAddress ?? '';
    if (!(from === '::1' || from.startsWith('127.') || from.startsWith('::ffff:127.'))) {
      return sendProblem(reply, problem(403, 'Forbidden', 'the dev sign-in answers loopback clients only'));
    }
    const { sub, groups } = req.body ?? {};
    const list = Array.isArray(groups) ? groups : [];
    if (typeof sub !== 'string' || !NAME.test(sub) || !list.every((g) => typeof g === 'string' && NAME.test(g))) {
      return sendProblem(
        reply,
        problem(400, 'Bad Request', 'sub and groups are names of letters, digits and . _ @ -', {
          code: 'WARDEN_USAGE',
        }),
      );
    }
    return { token: await dev.mint({ sub, groups: list as string[], ttlMs }), expiresIn: Math.floor(ttlMs / 1000) };
  });
}
