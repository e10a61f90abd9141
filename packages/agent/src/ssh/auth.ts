// Public-key authentication against the job's authorized keys, any user name. Passwords,
// keyboard-interactive, host-based and "none" are refused, so OpenSSH goes straight to its keys.
import { timingSafeEqual } from 'node:crypto';
import type { AuthContext } from 'ssh2';
import type { AuthorizedKey } from './keys';

function sameBlob(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Finds the authorized key with this blob; every key is compared so timing tells nothing. */
export function findKey(keys: readonly AuthorizedKey[], blob: Buffer): AuthorizedKey | undefined {
  let found: AuthorizedKey | undefined;
  for (const k of keys) if (sameBlob(k.blob, blob) && !found) found = k;
  return found;
}

/**
 * Decides one authentication attempt. Without a signature the client only asks whether the key
 * would do (SSH_MSG_USERAUTH_PK_OK); with one, the signature over the session data must verify.
 */
export function authenticate(ctx: AuthContext, keys: readonly AuthorizedKey[]): AuthorizedKey | undefined {
  if (ctx.method !== 'publickey') {
    ctx.reject(['publickey']);
    return undefined;
  }
  const match = findKey(keys, ctx.key.data);
  if (!match) {
    ctx.reject(['publickey']);
    return undefined;
  }
  if (!ctx.signature) {
    // Only a query: ssh2 answers SSH_MSG_USERAUTH_PK_OK, nothing is authenticated yet.
    ctx.accept();
    return undefined;
  }
  const ok = Boolean(ctx.blob) && match.key.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) === true;
  if (ok) ctx.accept();
  else ctx.reject(['publickey']);
  return ok ? match : undefined;
}
