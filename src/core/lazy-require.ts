// A CommonJS package required at its first use rather than imported at start-up, for heavy
// packages only some gateways need (ssh2, node-postgres). Synchronous (a require), so callers'
// sync code stays as it was.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A function returning the package, loading it at the first call. */
export function lazyRequire<T>(specifier: string): () => T {
  let loaded: T | undefined;
  return () => {
    loaded ??= require(specifier) as T;
    return loaded;
  };
}
