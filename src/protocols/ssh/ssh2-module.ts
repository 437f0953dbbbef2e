// ssh2 (~15 MB of resident memory once loaded), required at first use instead of at startup: the
// API's SSH routes and the REST/MCP command runner reach it through modules every gateway loads,
// but only a gateway that signs certificates or runs commands needs it. Synchronous (a CommonJS
// require), so the callers' sync code (key parsing, `new Client()`) stays as it was.
import { createRequire } from 'node:module';
import type ssh2Module from 'ssh2';

const require = createRequire(import.meta.url);
let loaded: typeof ssh2Module | undefined;

/** The ssh2 module, loaded at the first call. */
export function ssh2(): typeof ssh2Module {
  loaded ??= require('ssh2') as typeof ssh2Module;
  return loaded;
}
