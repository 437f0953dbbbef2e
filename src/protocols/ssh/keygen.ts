// ed25519 key pairs in OpenSSH format. ssh2's generateKeyPairSync strips every leading zero byte
// of the public key (mscdex/ssh2#1390, #1513), so about 1 pair in 256 carries a 31-byte key that
// neither ssh2 nor OpenSSH accepts: a gateway host key, user CA or `warden ssh-cert` key made
// that way never works. Each pair is checked by parsing both halves and made again if refused.
import { ssh2 } from './ssh2-module.js';

export interface OpenSshKeyPair {
  /** OpenSSH private key file text. */
  private: string;
  /** `ssh-ed25519 AAAA… comment`. */
  public: string;
}

const ATTEMPTS = 16;

export function generateEd25519KeyPair(comment: string): OpenSshKeyPair {
  const { utils } = ssh2();
  for (let i = 0; i < ATTEMPTS; i++) {
    const pair = utils.generateKeyPairSync('ed25519', { comment });
    if (wellFormed(utils.parseKey(pair.private)) && wellFormed(utils.parseKey(pair.public)))
      return { private: pair.private, public: pair.public };
  }
  // 16 malformed pairs in a row (p ≈ 2^-128): something else is wrong.
  throw new Error('could not generate a well-formed ed25519 key pair');
}

function wellFormed(key: ReturnType<ReturnType<typeof ssh2>['utils']['parseKey']>): boolean {
  return !(key instanceof Error) && !Array.isArray(key) && key.getPublicSSH().length === 51;
}
