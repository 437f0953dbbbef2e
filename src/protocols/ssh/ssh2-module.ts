// ssh2 (~15 MB of resident memory once loaded), required at first use instead of at startup: the
// API's SSH routes and the REST/MCP command runner reach it through modules every gateway loads,
// but only a gateway that signs certificates or runs commands needs it.
import type ssh2Module from 'ssh2';
import { lazyRequire } from '../../core/lazy-require.js';

/** The ssh2 module, loaded at the first call. */
export const ssh2 = lazyRequire<typeof ssh2Module>('ssh2');
