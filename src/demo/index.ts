// Public face of the demo: start a complete gateway on embedded defaults, and its printed help.

export { DEMO_DEFAULTS } from './defaults.js';
export { demoCurlLines, demoInstructions, demoPsqlCommand, demoSshLines } from './instructions.js';
export { type PgliteServer, type PgliteServerOptions, servePglite } from './pglite-server.js';
export { ensureShopSample, openPglite, SHOP_SQL_URL } from './pglite-target.js';
export { type DemoOptions, type DemoStep, type RunningDemo, startDemo } from './start.js';
