// The gateway under benchmark runs as plain JavaScript, as `warden` does from dist/ (bin/warden.js):
// under the tsx loader it would carry the loader's worker thread and transpiler (~100 MB RSS, and
// lazy transpiles during the first runs). The sources are transpiled file by file into a private
// tree (not the shared dist/, which `npm run build` deletes and rewrites), so what is measured is
// always the current src/ and no other process's dist/ is touched.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function transpileTree(from: string, root: string, outRoot: string): number {
  let n = 0;
  for (const name of readdirSync(from)) {
    const p = join(from, name);
    const out = join(outRoot, relative(root, p));
    if (statSync(p).isDirectory()) {
      n += transpileTree(p, root, outRoot);
      continue;
    }
    mkdirSync(dirname(out), { recursive: true });
    if (!name.endsWith('.ts')) {
      copyFileSync(p, out);
      continue;
    }
    if (name.endsWith('.d.ts')) continue;
    const js = ts.transpileModule(readFileSync(p, 'utf8'), {
      fileName: p,
      compilerOptions: {
        module: ts.ModuleKind.ES2022,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: true,
        esModuleInterop: true,
      },
    }).outputText;
    writeFileSync(out.replace(/\.ts$/, '.js'), js);
    n++;
  }
  return n;
}

/**
 * Transpiles src/ and bench/pg/gateway-child.ts into `outDir`; returns the child's .js path.
 * `srcRoot`: a tree whose src/ is compiled instead of this checkout's (`--compare REV`: the
 * same bench against an older revision, in the same run).
 */
export function compileGatewayChild(outDir: string, srcRoot: string = ROOT): string {
  transpileTree(join(srcRoot, 'src'), srcRoot, outDir);
  const child = join(ROOT, 'bench/pg/gateway-child.ts');
  const js = ts.transpileModule(readFileSync(child, 'utf8'), {
    fileName: child,
    compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
  }).outputText;
  const childOut = join(outDir, 'bench/pg/gateway-child.js');
  mkdirSync(dirname(childOut), { recursive: true });
  writeFileSync(childOut, js);
  linkPackage(outDir);
  return childOut;
}

/**
 * Transpiles src/, bench/ and test/helpers/ into `outDir`, for a bench child that imports test
 * helpers (the HTTP bench's gateway); returns the .js path of `benchFile` (relative to the root).
 */
export function compileBenchChild(outDir: string, benchFile: string): string {
  for (const tree of ['src', 'bench', 'test/helpers']) transpileTree(join(ROOT, tree), ROOT, outDir);
  linkPackage(outDir);
  return join(outDir, benchFile.replace(/\.ts$/, '.js'));
}

/** package.json: "type": "module" and the version the API reports; node_modules: dependencies. */
function linkPackage(outDir: string): void {
  copyFileSync(join(ROOT, 'package.json'), join(outDir, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(outDir, 'node_modules'), 'dir');
}
