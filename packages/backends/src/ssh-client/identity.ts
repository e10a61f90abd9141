// The private key an SSH connection authenticates with, read from the user's identity file. Only keys
// without a passphrase: the daemon runs unattended and never prompts.
import { readFileSync } from 'node:fs';
import { utils } from 'ssh2';
import { SshIdentityError } from './errors';

/**
 * Reads an identity file and checks that it parses as a private key; returns its bytes (ssh2 takes
 * keys as bytes). Throws SshIdentityError naming the file (and `host`, for context).
 */
export function loadIdentity(file: string, host: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new SshIdentityError(host, `cannot read identity file ${file}: ${why}`, file, { cause: err });
  }
  const parsed = utils.parseKey(data);
  if (parsed instanceof Error) {
    const why = /passphrase/i.test(parsed.message)
      ? 'the key is protected by a passphrase; use a key without one (dstack connects unattended)'
      : `not a private key ssh2 can read (${parsed.message})`;
    throw new SshIdentityError(host, `identity file ${file}: ${why}`, file, { cause: parsed });
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key.isPrivateKey?.() === false || key.getPrivatePEM() === null) {
    throw new SshIdentityError(host, `identity file ${file}: holds no private key (is it the .pub half?)`, file);
  }
  return data;
}
