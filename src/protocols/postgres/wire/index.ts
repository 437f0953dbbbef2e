// Public face of the PostgreSQL wire layer: framing, codes, parsers, builders, rewriters.
export * from './backend.js';
export * from './build-backend.js';
export * from './build-frontend.js';
export * from './codes.js';
export * from './errors.js';
export * from './frontend.js';
export * from './reader.js';
export * from './rewrite.js';
export * from './writer.js';
