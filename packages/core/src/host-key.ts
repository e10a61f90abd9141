// An SSH host key as a person writes it (a `.pub` file's line, a known_hosts entry's last two fields):
// "ssh-ed25519 AAAA... [comment]". Parsed here so a fleet file's `host_key:` is checked where it is
// written; the fingerprints are computed where keys are compared (backends).
import { controlCharIn, showValue } from './quoting';

/** The key types an SSH server presents as its host key that dstack can check. */
export const HOST_KEY_TYPES = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa'] as const;

export interface ParsedHostKey {
  type: string;
  /** The SSH wire-format blob, base64 (as in known_hosts). */
  base64: string;
}

function decodeBase64(s: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(s) || s.length % 4 !== 0) return null;
  try {
    return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/** The key type a wire-format blob names (its first string); null when the blob is malformed. */
export function blobKeyType(blob: Uint8Array): string | null {
  if (blob.length < 4) return null;
  const len = ((blob[0] << 24) | (blob[1] << 16) | (blob[2] << 8) | blob[3]) >>> 0;
  if (len === 0 || len > 64 || len > blob.length - 4) return null;
  return String.fromCharCode(...blob.subarray(4, 4 + len));
}

/**
 * "TYPE BASE64 [comment]" → the key; throws an Error saying what is wrong (an unknown type, base64
 * that is not, a blob of another type than the one written before it).
 */
export function parseHostKey(text: string): ParsedHostKey {
  const fail = (why: string) => new Error(`host key ${showValue(text)} ${why}`);
  const example = 'write it as the host\'s .pub file has it, e.g. "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA..." (`ssh-keyscan HOST` prints it)';
  // A .pub file's line ends with a line break: whitespace at either end is not part of the key.
  const control = controlCharIn(text.trim());
  if (control) throw fail(`has a control character (${control})`);
  const [type, base64] = text.trim().split(/[ \t]+/);
  if (!type || !base64) throw fail(`is not "TYPE KEY": ${example}`);
  if (!(HOST_KEY_TYPES as readonly string[]).includes(type)) throw fail(`has type "${type}", not one of ${HOST_KEY_TYPES.join(', ')}`);
  const blob = decodeBase64(base64);
  if (!blob) throw fail(`is not base64 after its type: ${example}`);
  const inner = blobKeyType(blob);
  if (inner !== type) throw fail(inner ? `holds a ${inner} key, not ${type}` : 'does not hold an SSH public key');
  return { type, base64 };
}
