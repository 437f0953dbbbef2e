import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../gateway/index.js';

/** Connections the caller may use; others are invisible. */
export function registerConnectionRoutes(app: FastifyInstance, gw: Gateway): void {
  app.get('/connections', async (req) => {
    const identity = req.identity!;
    const grants = gw.approvals.activeGrants(identity);
    const out = [];
    for (const [name, c] of Object.entries(gw.config.connections)) {
      const access = gw.policy.access(identity, name, { jitGrants: grants });
      if (!access.granted && !access.jit) continue;
      out.push({ name, type: c.type, access: access.granted ? 'granted' : 'jit-requestable' });
    }
    return { connections: out };
  });
}
