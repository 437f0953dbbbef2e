// PostgreSQL front door. Public face: the engine (registered in src/protocols/index.ts).
export { postgresEngine, upstreamOptions } from './engine.js';
