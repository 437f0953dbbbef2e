// Which connections a caller may see: those they have access to, and those they may request
// just-in-time access to. Every other connection is invisible (reported as unknown).
import type { ConnectionConfig } from '../config/schema.js';
import type { Identity } from '../core/types.js';
import type { Gateway } from '../gateway/index.js';

export interface VisibleConnection {
  name: string;
  type: ConnectionConfig['type'];
  access: 'granted' | 'jit-requestable';
}

export function visibleConnections(gw: Gateway, identity: Identity): VisibleConnection[] {
  const grants = gw.approvals.activeGrants(identity);
  const out: VisibleConnection[] = [];
  for (const [name, c] of Object.entries(gw.config.connections)) {
    const access = gw.policy.access(identity, name, { jitGrants: grants });
    if (!access.granted && !access.jit) continue;
    out.push({ name, type: c.type, access: access.granted ? 'granted' : 'jit-requestable' });
  }
  return out;
}

export function canSee(gw: Gateway, identity: Identity, connection: string): boolean {
  if (!gw.connectionConfig(connection)) return false;
  const access = gw.policy.access(identity, connection, { jitGrants: gw.approvals.activeGrants(identity) });
  return access.granted || access.jit;
}
