// mvdan-sh (the shell parser, GopherJS: ~25 MB of resident memory once loaded), required on the
// first command analysed rather than at startup: a gateway with no SSH connection never pays it.
// Synchronous (a CommonJS require), because command analysis is synchronous.
import { createRequire } from 'node:module';
import type sh from 'mvdan-sh';

type Syntax = (typeof sh)['syntax'];

const require = createRequire(import.meta.url);
let syntax: Syntax | undefined;

/** mvdan-sh's `syntax` package, loaded at the first call. */
export function shSyntax(): Syntax {
  syntax ??= (require('mvdan-sh') as typeof sh).syntax;
  return syntax;
}
