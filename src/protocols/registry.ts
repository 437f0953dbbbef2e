// The one list of protocols. Each entry brings the protocol's connection schema (the config is a
// discriminated union on `type`), the `listen.<key>` its front door binds, what `policy test`
// makes of a line of input, and its engine (loaded only when something needs it). Adding an
// adapter is: a folder under src/protocols/, one line here. Tests register their own with
// registerProtocol().
import type { z } from 'zod';
import { parseHttpInput } from '../gateway/http-input.js';
import type { OperationInput } from '../gateway/operation.js';
import type { ProtocolEngine } from './engine.js';
import { httpConnectionSchema } from './http/connection.js';
import { kubernetesConnectionSchema } from './kubernetes/connection.js';
import { mysqlConnectionSchema } from './mysql/connection.js';
import { postgresConnectionSchema } from './postgres/connection.js';
import { sshConnectionSchema } from './ssh/connection.js';

export interface ProtocolSpec {
  /** The connection `type`. */
  readonly name: string;
  /** `listen.<key>` of its front door; null when it is served by another's (kubernetes on http). */
  readonly listen: string | null;
  /** `connections.<name>` of this type: a strict object with `type: z.literal(name)`. */
  readonly connection: z.ZodObject;
  /** What `policy test` makes of one line of input; absent: no analysis for this protocol yet. */
  readonly policyInput?: (text: string) => OperationInput;
  /** Its engine; absent: connections of this type are accepted in the config, not served yet. */
  readonly engine?: () => Promise<ProtocolEngine>;
  /**
   * Loads, once, what buildOperation needs to analyse this protocol's operations (postgres:
   * libpg-query's WebAssembly parser, ~10 MB resident). Awaited before a session of this type
   * opens and before `policy test`, so a gateway that has not served one holds none of it.
   */
  readonly analysis?: () => Promise<void>;
}

const BUILTIN = [
  {
    name: 'postgres',
    listen: 'postgres',
    connection: postgresConnectionSchema,
    policyInput: (text) => ({ kind: 'sql', text }),
    engine: async () => (await import('./postgres/index.js')).postgresEngine,
    analysis: async () => (await import('../analysis/pg-parser.js')).initAnalysis(),
  },
  { name: 'mysql', listen: 'mysql', connection: mysqlConnectionSchema },
  {
    name: 'ssh',
    listen: 'ssh',
    connection: sshConnectionSchema,
    policyInput: (text) => ({ kind: 'command', text }),
    engine: async () => (await import('./ssh/index.js')).sshEngine,
  },
  {
    name: 'http',
    listen: 'http',
    connection: httpConnectionSchema,
    policyInput: (text) => ({ kind: 'http', text, http: parseHttpInput(text) }),
    engine: async () => (await import('./http/index.js')).httpEngine,
  },
  { name: 'kubernetes', listen: null, connection: kubernetesConnectionSchema },
] as const satisfies readonly ProtocolSpec[];

/** A connection config of one of the built-in protocols. */
export type BuiltinConnectionConfig = z.infer<(typeof BUILTIN)[number]['connection']>;
export type BuiltinProtocolName = (typeof BUILTIN)[number]['name'];

const specs = new Map<string, ProtocolSpec>(BUILTIN.map((s) => [s.name, s]));
let version = 0;

/** Add (or replace) a protocol at run time: how a test brings a fake engine. */
export function registerProtocol(spec: ProtocolSpec): void {
  specs.set(spec.name, spec);
  version++;
}

export function protocolSpec(name: string): ProtocolSpec | undefined {
  return specs.get(name);
}

/** Loads the analysis operations of this connection type need (see ProtocolSpec.analysis); idempotent. */
export async function loadAnalysis(type: string): Promise<void> {
  await specs.get(type)?.analysis?.();
}

export function protocols(): readonly ProtocolSpec[] {
  return [...specs.values()];
}

/** Changes whenever the registry does (schemas built from it cache on it). */
export function registryVersion(): number {
  return version;
}
