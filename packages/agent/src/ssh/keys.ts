// Host keys and authorized keys in OpenSSH's text forms. Each job gets its own ed25519 host key;
// the daemon pins its public half in ~/.dstack/ssh/known_hosts.
import ssh2, { type ParsedKey } from 'ssh2';

// ssh2 is CommonJS: Node's ESM loader sees only its default export.
const { utils } = ssh2;

export interface HostKey {
  /** OpenSSH private key format (-----BEGIN OPENSSH PRIVATE KEY-----). */
  privatePem: string;
  /** One line: "ssh-ed25519 AAAA...". */
  publicKey: string;
}

export function generateHostKey(): HostKey {
  const pair = utils.generateKeyPairSync('ed25519');
  return { privatePem: pair.private, publicKey: publicKeyLine(pair.private) };
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
