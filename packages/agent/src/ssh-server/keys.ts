// Host keys and authorized keys in OpenSSH's text forms. Each job gets its own ed25519 host key;
// the daemon pins its public half in ~/.dstack/ssh/known_hosts.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import ssh2, { type ParsedKey } from 'ssh2';

// ssh2 is CommonJS: Node's ESM loader sees only its default export.
const { utils } = ssh2;

export interface HostKey {
  /** OpenSSH private key format (-----BEGIN OPENSSH PRIVATE KEY-----). */
  privatePem: string;
  /** One line: "ssh-ed25519 AAAA...". */
  publicKey: string;
}

function sshString(data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/**
 * A fresh ed25519 key in OpenSSH's own format (openssh-key-v1, unencrypted), made with node's
 * crypto. (ssh2's generateKeyPairSync drops a leading zero byte of the public key, about one key in
 * 150, and then cannot read its own output.)
 */
export function generateHostKey(comment = 'dstack-job'): HostKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  const pubBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
  const check = randomBytes(4);
  let priv = Buffer.concat([check, check, pubBlob, sshString(Buffer.concat([seed, pub])), sshString(comment)]);
  const pad = (8 - (priv.length % 8)) % 8;
  priv = Buffer.concat([priv, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const blob = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    uint32(1),
    sshString(pubBlob),
    sshString(priv),
  ]);
  const b64 = blob.toString('base64').replace(/.{70}/g, '$&\n').replace(/\n$/, '');
  const privatePem = `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}\n-----END OPENSSH PRIVATE KEY-----\n`;
  return { privatePem, publicKey: `ssh-ed25519 ${pubBlob.toString('base64')}` };
}

function parsed(key: string | Buffer): ParsedKey {
  const k = utils.parseKey(key);
  if (k instanceof Error) throw k;
  return Array.isArray(k) ? k[0] : k;
}

/** The public half of a key (private or public, any format ssh2 reads) as one OpenSSH line. */
export function publicKeyLine(key: string | Buffer): string {
  const k = parsed(key);
  return `${k.type} ${k.getPublicSSH().toString('base64')}`;
}

export interface AuthorizedKey {
  /** The key blob as sent in SSH_MSG_USERAUTH_REQUEST (compared in constant time). */
  blob: Buffer;
  key: ParsedKey;
  comment: string;
}

// A key line, possibly behind authorized_keys options ("from=...,no-pty ssh-ed25519 AAAA... c").
const KEY_RE = /(?:^|\s)((?:ssh|ecdsa|sk)-[\w@.-]+)\s+([A-Za-z0-9+/]+={0,3})(?:\s+(.*))?$/;

/**
 * Parses authorized keys (one per entry; blank lines and comments allowed inside an entry).
 * Returns the keys it could read and one message per line it could not.
 */
export function parseAuthorizedKeys(entries: string[]): { keys: AuthorizedKey[]; errors: string[] } {
  const keys: AuthorizedKey[] = [];
  const errors: string[] = [];
  entries.forEach((entry, i) => {
    for (const raw of entry.split('\n')) {
      const line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      const m = KEY_RE.exec(line);
      if (!m) {
        errors.push(`authorized key ${i + 1}: not an OpenSSH public key line`);
        continue;
      }
      try {
        const key = parsed(`${m[1]} ${m[2]}`);
        keys.push({ blob: key.getPublicSSH(), key, comment: m[3] ?? '' });
      } catch (err) {
        errors.push(`authorized key ${i + 1}: ${(err as Error).message}`);
      }
    }
  });
  return { keys, errors };
}
