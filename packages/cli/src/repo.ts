// Which folder a run uploads: the git repo that holds the configuration file (its top level), or,
// outside git, the configuration's own folder.
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';

export function repoDirFor(configFile: string): string {
  const dir = dirname(resolve(configFile));
  const res = spawnSync('git', ['-C', dir, 'rev-parse', '--show-toplevel'], { encoding: 'utf8', timeout: 10_000 });
  const top = res.status === 0 ? res.stdout.trim() : '';
  return top || dir;
}
