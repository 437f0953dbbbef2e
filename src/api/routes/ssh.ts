// The SSH front door's client side (DESIGN.md §8 SSH): what `warden ssh-config` needs to pin the
// gateway (its SSH address and host key), and short-lived OpenSSH user certificates for the
// caller's identity. The client keeps its private key: it sends only the public key to certify,
// so no private key ever crosses the API or sits in a log.
import type { FastifyInstance } from 'fastify';
import { parseDuration } from '../../core/duration.js';
import { WardenError } from '../../core/errors.js';
import type { Gateway } from '../../gateway/index.js';
import { ed25519PublicKey, issueUserCertificate, MAX_TTL_MS, userCa } from '../../protocols/ssh/ca.js';
import { fingerprint, gatewayHostKey } from '../../protocols/ssh/host-key.js';
import { ssh2 } from '../../protocols/ssh/ssh2-module.js';
import { responses, wrap } from '../schemas.js';

export const DEFAULT_CERT_TTL = '15m';

/** `host:port` / `[v6]:port`, with the bound port when the listener has one. */
function hostPort(address: string, bound: number | undefined): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: bound ?? Number(address.slice(i + 1)) };
}

interface CertificateBody {
  publicKey: string;
  ttl?: string;
}

const str = { type: 'string' } as const;

const gatewaySsh = {
  type: 'object',
  properties: {
    listen: {
      type: ['object', 'null'],
      description: 'listen.ssh with the bound port; null when the SSH front door is off',
      properties: { host: str, port: { type: 'integer' } },
      required: ['host', 'port'],
    },
    hostKey: { type: 'string', description: 'the gateway host key, `ssh-ed25519 AAAA…` (for known_hosts)' },
    hostKeyFingerprint: str,
    userCa: { type: 'string', description: 'the CA that signs user certificates, `ssh-ed25519 AAAA…`' },
    userCaFingerprint: str,
  },
  required: ['listen', 'hostKey', 'hostKeyFingerprint', 'userCa', 'userCaFingerprint'],
} as const;

const issued = {
  type: 'object',
  properties: {
    certificate: { type: 'string', description: 'the `-cert.pub` line' },
    keyId: { type: 'string', description: 'the token id (jti), or ssh-cert-<serial> for a token without one' },
    serial: str,
    principal: str,
    validAfter: { type: 'number', description: 'epoch ms' },
    validBefore: { type: 'number', description: 'epoch ms; never after the token expires' },
    publicKeyFingerprint: str,
  },
  required: ['certificate', 'keyId', 'serial', 'principal', 'validAfter', 'validBefore', 'publicKeyFingerprint'],
} as const;

/** `ports`: bound ports by front door, filled as the listeners bind (a configured port 0 is known only then). */
export function registerSshRoutes(app: FastifyInstance, gw: Gateway, ports: Readonly<Record<string, number>>): void {
  app.get(
    '/ssh',
    {
      schema: {
        summary: 'The gateway SSH front door: address, host key and user CA (for ssh-config and known_hosts)',
        tags: ['ssh'],
        response: responses({ 200: wrap('ssh', gatewaySsh) }),
      },
    },
    async () => {
      const hostKey = ssh2().utils.parseKey(await gatewayHostKey(gw.config.dataDir));
      if (hostKey instanceof Error || Array.isArray(hostKey)) throw new Error('the gateway host key is unreadable');
      const hostBlob = hostKey.getPublicSSH();
      const ca = await userCa(gw.config.dataDir);
      const address = gw.config.listen.ssh;
      const listen = address ? hostPort(address, ports.ssh) : null;
      return {
        ssh: {
          listen,
          hostKey: `${hostKey.type} ${hostBlob.toString('base64')}`,
          hostKeyFingerprint: fingerprint(hostBlob),
          userCa: ca.publicKey,
          userCaFingerprint: ca.fingerprint,
        },
      };
    },
  );

  app.post<{ Body: CertificateBody }>(
    '/ssh/certificates',
    {
      schema: {
        summary:
          "An OpenSSH user certificate for the caller's identity (principal = sub), no longer valid than the token",
        tags: ['ssh'],
        body: {
          type: 'object',
          properties: {
            publicKey: {
              type: 'string',
              minLength: 1,
              maxLength: 4096,
              description: 'ssh-ed25519 AAAA… (the client keeps the private key)',
            },
            ttl: { type: 'string', maxLength: 20, description: `e.g. 15m (default ${DEFAULT_CERT_TTL}, at most 24h)` },
          },
          required: ['publicKey'],
          additionalProperties: false,
        },
        response: responses({ 201: wrap('certificate', issued) }),
      },
    },
    async (req, reply) => {
      const identity = req.identity!;
      let ttlMs: number;
      try {
        ttlMs = parseDuration(req.body.ttl ?? DEFAULT_CERT_TTL);
      } catch (err) {
        throw new WardenError('WARDEN_USAGE', (err as Error).message);
      }
      if (ttlMs < 1000 || ttlMs > MAX_TTL_MS) throw new WardenError('WARDEN_USAGE', 'ttl must be between 1s and 24h');
      const publicKey = ed25519PublicKey(req.body.publicKey);
      const cert = issueUserCertificate(await userCa(gw.config.dataDir), {
        publicKey,
        identity,
        ttlMs,
        now: gw.clock.now(),
      });
      // Issued, then audited: a failed audit write fails the request, and the certificate is not handed out.
      await gw.audit.append({
        type: 'ssh.certificate.issued',
        actor: identity.sub,
        data: {
          issuer: identity.issuer,
          keyId: cert.keyId,
          serial: cert.serial,
          principal: cert.principal,
          validAfter: cert.validAfter,
          validBefore: cert.validBefore,
          publicKey: cert.publicKeyFingerprint,
        },
      });
      return reply.code(201).send({ certificate: cert });
    },
  );
}
