// The adapter kit: the engine contract, the shared listener, accept limits and the registry.
export type {
  ClientStream,
  EngineHost,
  EngineInstance,
  InProcessRequest,
  ProtocolEngine,
  ProtocolServer,
} from './engine.js';
export { listenFor } from './listener.js';
export { protocolSpec, protocols, registerProtocol } from './registry.js';
