// The user's key for runs: $DSTACK_HOME/ssh/id_ed25519 (0600) and its .pub, made once. It goes into
// every job's authorized_keys and every Host block's IdentityFile.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { writeFileAtomic } from '@dstack/core/atomic-write';
import { dirname } from 'node:path';

export interface UserKey {
  privatePath: string;
  publicKey: string;
}

/** SSH wire encoding: a uint32 length, then the bytes. */
function wire(...parts: (Buffer | string)[]): Buffer {
  return Buffer.concat(
    parts.map((p) => {
      const b = Buffer.from(p);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      return Buffer.concat([len, b]);
    }),
  );
}

/**
 * An ed25519 key pair in OpenSSH's formats (openssh-key-v1 private key, unencrypted; the public
 * line), from node's crypto. Written here rather than with ssh2's generator, which drops a leading
 * zero byte of the public key about once in 150 keys.
 */
export function generateEd25519(comment: string): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  const pubBlob = wire('ssh-ed25519', pub);
  const check = randomBytes(4);
  let secret = Buffer.concat([check, check, wire('ssh-ed25519', pub, Buffer.concat([seed, pub]), comment)]);
  const pad = (8 - (secret.length % 8)) % 8;
  secret = Buffer.concat([secret, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([Buffer.from('openssh-key-v1\0'), wire('none', 'none', ''), Buffer.from([0, 0, 0, 1]), wire(pubBlob, secret)]);
  const b64 = body.toString('base64').replace(/.{1,70}/g, '$&\n');
  return {
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}-----END OPENSSH PRIVATE KEY-----\n`,
    publicKey: `ssh-ed25519 ${pubBlob.toString('base64')} ${comment}`,
  };
}

export function ensureUserKey(privatePath: string): UserKey {
  const pubPath = `${privatePath}.pub`;
  mkdirSync(dirname(privatePath), { recursive: true, mode: 0o700 });
  if (!existsSync(privatePath) || !existsSync(pubPath)) {
    const pair = generateEd25519('dstack');
    writeFileSync(pubPath, `${pair.publicKey}\n`, { mode: 0o644 });
    writeFileAtomic(privatePath, pair.privateKey, { mode: 0o600 });
  }
  chmodSync(privatePath, 0o600);
  return { privatePath, publicKey: readFileSync(pubPath, 'utf8').trim() };
}
