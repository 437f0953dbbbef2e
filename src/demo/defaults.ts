// The demo's defaults, apart from the demo itself: the CLI shows them in `warden demo --help`
// without loading the demo (PGlite, ssh2), which every other command would pay for.
export const DEMO_DEFAULTS = { dir: './warden-demo', host: '127.0.0.1', apiPort: 8080, pgPort: 15432 } as const;
