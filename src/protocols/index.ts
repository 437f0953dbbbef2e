// Every protocol engine, registered in one place (Teleport's RegisterEngine idea).
import type { ProtocolEngine } from './engine.js';
import { postgresEngine } from './postgres/index.js';

export type { EngineContext, ProtocolEngine, ProtocolServer } from './engine.js';

export const ENGINES: readonly ProtocolEngine[] = [postgresEngine];

export async function loadEngines(): Promise<readonly ProtocolEngine[]> {
  return ENGINES;
}
