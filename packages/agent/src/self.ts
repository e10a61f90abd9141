// The agent's identity: its version and the sha256 of the running executable, which the daemon
// compares with the one it ships (a mismatch means redeploy).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { VERSION } from '@dstack/core/version';
import { isSea } from './native/sea';

export const AGENT_VERSION = VERSION;

/** The file whose hash identifies this agent: the executable, or the script when run by plain Node. */
export function executablePath(): string {
  return isSea() ? process.execPath : (process.argv[1] ?? process.execPath);
}

let sha: Promise<string> | undefined;

export function executableSha256(): Promise<string> {
  sha ??= new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(executablePath())
      .on('data', (d) => hash.update(d))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
  return sha;
}
