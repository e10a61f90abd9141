// dstack's profiles.yml files for a run, found where dstack looks: the repo's `.dstack/profiles.yml`,
// then `~/.dstack/profiles.yml` (`.yaml` where the `.yml` is missing). The CLI only reads them: the
// daemon parses them and picks the profile (core's config/profiles.ts), so apply loads no YAML parser.
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import type { Profiles } from '@dstack/core/gen/daemon';
import { UserError, whyUnreadable } from '../errors';

/** `<dir>/.dstack/profiles.yml`, else `.yaml`, else undefined. */
function profilesFileIn(dir: string): string | undefined {
  for (const ext of ['yml', 'yaml']) {
    const path = join(dir, '.dstack', `profiles.${ext}`);
    try {
      if (statSync(path).isFile()) return path;
    } catch {
      // not there
    }
  }
  return undefined;
}

/** How a path is shown in errors: from the working directory when under it, else from ~, else whole. */
export function shownPath(path: string, cwd = process.cwd(), home = homedir()): string {
  const under = (dir: string) => path.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`);
  if (under(cwd)) return relative(cwd, path);
  if (home && under(home)) return `~${sep}${relative(home, path)}`;
  return path;
}

/**
 * The profile asked for and the profiles files there are, for ConfigurationSource.profiles: `flag`
 * (--profile) first, else $DSTACK_PROFILE, as dstack's default for --profile.
 */
export function profilesFor(
  repoDir: string,
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  home = homedir(),
): Profiles | undefined {
  const fromEnv = flag === undefined && Boolean(env.DSTACK_PROFILE);
  const name = flag ?? env.DSTACK_PROFILE ?? '';
  const paths = [profilesFileIn(repoDir), home ? profilesFileIn(home) : undefined].filter((p): p is string => p !== undefined);
  const files = [...new Set(paths.map((p) => resolve(p)))].map((path) => {
    try {
      return { path: shownPath(path, process.cwd(), home), text: readFileSync(path, 'utf8') };
    } catch (err) {
      throw new UserError(`cannot read ${shownPath(path, process.cwd(), home)}: ${whyUnreadable(err)}`);
    }
  });
  if (!name && !files.length) return undefined;
  return { name, files, flag: fromEnv ? '$DSTACK_PROFILE' : '--profile' };
}
