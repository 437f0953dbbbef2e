// Public key login with a gateway-issued OpenSSH user certificate: the certificate must be one
// this gateway's CA signed, for a user, valid now, with no critical option the gateway does not
// enforce (none are), naming the identity's sub as its only principal; then the client must
// prove it holds the certified key (its signature over the session). The identity is the one the
// CA signed into the certificate, expiring when the certificate does; the caller checks expiry
// and revocation with the core, as for a token, at login and at every operation.
import { z } from 'zod';
import { WardenError } from '../../core/errors.js';
import type { Identity } from '../../core/types.js';
import { IDENTITY_EXTENSION, type UserCa } from './ca.js';
import {
  type Certificate,
  CertificateFormatError,
  decodeCertificate,
  ED25519_CERT,
  ed25519FromBlob,
  optionValue,
  USER_CERT,
  verifyEd25519,
} from './certificate.js';

/** What ssh2 hands over for method `publickey` (PKAuthContext). */
export interface PublicKeyAttempt {
  algo: string;
  key: Buffer;
  /** Absent on the "would you accept this key" query that precedes the signed request. */
  signature?: Buffer | undefined;
  /** The data the client signed (session id + the request), as ssh2 assembled it. */
  blob?: Buffer | undefined;
}

export interface CertificateLogin {
  identity: Identity;
  keyId: string;
  serial: string;
  /** True once the client's signature was checked (the query phase only checks the certificate). */
  proven: boolean;
}

const identitySchema = z.strictObject({
  iss: z.string().min(1),
  sub: z.string().min(1),
  groups: z.array(z.string()),
  claims: z.record(z.string(), z.unknown()),
  exp: z.number().int().positive(),
  jti: z.string().min(1).optional(),
});

function refuse(message: string): never {
  throw new WardenError('WARDEN_TOKEN_INVALID', message);
}

export function certificateLogin(ca: UserCa, attempt: PublicKeyAttempt, now: number): CertificateLogin {
  if (attempt.algo !== ED25519_CERT)
    refuse(`public key login needs a Warden SSH certificate (${ED25519_CERT}; warden ssh-cert)`);
  let cert: Certificate;
  try {
    cert = decodeCertificate(attempt.key);
  } catch (err) {
    if (err instanceof CertificateFormatError) refuse(`the certificate could not be read (${err.message})`);
    throw err;
  }
  // The CA first: nothing else in a certificate means anything before its signature is checked.
  if (!cert.signatureKey.equals(ca.blob)) refuse("the certificate is not signed by this gateway's SSH CA");
  if (!verifyEd25519(ed25519FromBlob(ca.blob), cert.signed, cert.signature))
    refuse("the certificate's CA signature does not verify");
  if (cert.type !== USER_CERT) refuse('the certificate is not a user certificate');
  const nowS = BigInt(Math.floor(now / 1000));
  if (nowS < cert.validAfter) refuse('the certificate is not valid yet');
  if (nowS >= cert.validBefore)
    refuse(`the certificate expired at ${new Date(Number(cert.validBefore) * 1000).toISOString()} (warden ssh-cert)`);
  for (const name of cert.criticalOptions.keys())
    refuse(`the certificate has a critical option the gateway does not enforce: ${name}`);
  const data = cert.extensions.get(IDENTITY_EXTENSION);
  if (!data) refuse('the certificate carries no Warden identity');
  let claims: z.infer<typeof identitySchema>;
  try {
    claims = identitySchema.parse(JSON.parse(optionValue(data)));
  } catch {
    refuse('the certificate carries an unreadable Warden identity');
  }
  if (cert.principals.length !== 1 || cert.principals[0] !== claims.sub)
    refuse('the certificate principal is not the identity it was issued for');
  if (attempt.signature !== undefined) {
    if (!attempt.blob || !verifyEd25519(cert.publicKey, attempt.blob, attempt.signature))
      refuse("the client's signature does not verify with the certified key");
  }
  const identity: Identity = {
    sub: claims.sub,
    issuer: claims.iss,
    groups: claims.groups,
    claims: claims.claims,
    // The certificate never outlives its token; the session is cut when either ends.
    expiresAt: Math.min(claims.exp, Number(cert.validBefore) * 1000),
    tokenId: cert.keyId,
  };
  return { identity, keyId: cert.keyId, serial: cert.serial.toString(), proven: attempt.signature !== undefined };
}
