// Every protocol engine, registered in one place.
import type { ProtocolEngine } from './engine.js';

export type { EngineContext, ProtocolEngine, ProtocolServer } from './engine.js';

export async function loadEngines(): Promise<ProtocolEngine[]> {
  const engines: ProtocolEngine[] = [];
  try {
    const pg = await import('./postgres/index.js');
    engines.push(pg.postgresEngine);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
  }
  return engines;
}
