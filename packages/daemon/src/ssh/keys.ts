// The user's key for runs: $DSTACK_HOME/ssh/id_ed25519 (0600) and its .pub, made once. It goes into
// every job's authorized_keys and every Host block's IdentityFile.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import ssh2 from 'ssh2';

export interface UserKey {
  privatePath: string;
  publicKey: string;
}

export function ensureUserKey(privatePath: string): UserKey {
  const pubPath = `${privatePath}.pub`;
  mkdirSync(dirname(privatePath), { recursive: true, mode: 0o700 });
  if (!existsSync(privatePath)) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'dstack' });
    const tmp = `${privatePath}.tmp-${process.pid}`;
    writeFileSync(tmp, pair.private, { mode: 0o600 });
    writeFileSync(pubPath, `${pair.public}\n`, { mode: 0o644 });
    renameSync(tmp, privatePath);
  }
  chmodSync(privatePath, 0o600);
  if (!existsSync(pubPath)) {
    const parsed = ssh2.utils.parseKey(readFileSync(privatePath));
    if (parsed instanceof Error) throw new Error(`${privatePath}: ${parsed.message}`);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    writeFileSync(pubPath, `${key.type} ${key.getPublicSSH().toString('base64')} dstack\n`, { mode: 0o644 });
  }
  return { privatePath, publicKey: readFileSync(pubPath, 'utf8').trim() };
}
