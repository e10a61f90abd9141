// The agent's identity: its version and the sha256 of the running executable, which the daemon
// compares with the one it ships (a mismatch means redeploy).
import { sha256File } from '@dstack/core/hash';
import { existsSync } from 'node:fs';
import { VERSION } from '@dstack/core/version';
import { isSea } from './native/sea';

export const AGENT_VERSION = VERSION;

/** The file whose hash identifies this agent: the executable, or the script when run by plain Node. */
export function executablePath(): string {
  return isSea() ? process.execPath : (process.argv[1] ?? process.execPath);
}

let sha: Promise<string> | undefined;

/**
 * The sha256 of the running executable. Read through /proc/self/exe where it exists: the daemon
 * replaces the file by a rename while an old agent may still run, and the old one must report the
 * hash of what it runs, not of the new file at the same path.
 */
export function executableSha256(): Promise<string> {
  const path = isSea() && existsSync('/proc/self/exe') ? '/proc/self/exe' : executablePath();
  sha ??= sha256File(path);
  return sha;
}
