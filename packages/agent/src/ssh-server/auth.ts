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

/** How one authentication attempt is to be answered. */
export type AuthVerdict = 'accept' | 'pk-ok' | 'reject';

/**
 * Judges one authentication attempt without answering it (the caller counts failures first).
 * Without a signature the client only asks whether the key would do: 'pk-ok' (ssh2 answers
 * SSH_MSG_USERAUTH_PK_OK, nothing is authenticated yet); with one, the signature over the session
 * data must verify.
 */
export function judgeAuth(ctx: AuthContext, keys: readonly AuthorizedKey[]): AuthVerdict {
  if (ctx.method !== 'publickey') return 'reject';
  const match = findKey(keys, ctx.key.data);
  if (!match) return 'reject';
  if (!ctx.signature) return 'pk-ok';
  return ctx.blob && match.key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true ? 'accept' : 'reject';
}

export function answerAuth(ctx: AuthContext, verdict: AuthVerdict): void {
  if (verdict === 'reject') ctx.reject(['publickey']);
  else ctx.accept();
}
