#!/usr/bin/env node
// Entry point. Sources are TypeScript; tsx's loader transpiles them once at start-up, so
// `npx warden …` works on a fresh clone after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
