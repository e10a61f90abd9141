// Which folder a run uploads: the git repo that holds the configuration file (its top level: the
// nearest folder up with a `.git`, a folder or a worktree's file), or, outside git, the
// configuration's own folder. No git process: this is on every apply's path.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export function repoDirFor(configFile: string): string {
  const start = dirname(resolve(configFile));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, '.git'))) return dir;
    if (dirname(dir) === dir) return start;
  }
}
