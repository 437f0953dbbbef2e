// Starts a module of this tree as a worker thread. From the compiled tree (dist/) that is its .js
// file; from the TypeScript sources (tests, `WARDEN_FROM_SOURCE`) the thread has no loader of its
// own — a worker inherits neither `--import tsx` nor a programmatic register() — so a two-line
// bootstrap registers tsx in the thread before importing the file.
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `name` is the module's file name without extension, next to the module whose URL is `base`. */
export function startModuleThread(base: string, name: string, options: WorkerOptions): Worker {
  if (!base.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, base), options);
  const file = new URL(`./${name}.ts`, base).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(file)}); });`;
  return new Worker(boot, { ...options, eval: true });
}
