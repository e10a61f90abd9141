// The job's env for every shell in a container, written straight into the container's filesystem
// (/proc/<pid>/root) by the agent, which runs as root on the host: /etc/profile.d/dstack.sh, an
// /etc/profile that reads profile.d where the image has none, and one line sourcing the profile in
// the user's ~/.profile and ~/.bashrc (shells that skip /etc/profile still read those). Two
// `docker exec`s did this before: about 90 ms on the way to the first SSH session, this is ~1 ms.
// Symlinks in the image are followed inside the container's root (ssh/confine.ts); files are opened
// with O_NOFOLLOW. Callers fall back to exec when this throws (an agent that is not root).
import { constants } from 'node:fs';
import { lstat, mkdir, open, readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { resolveIn } from '../ssh/confine';
import type { TargetUser } from '../ssh/target';

export const PROFILE = '/etc/profile.d/dstack.sh';
export const PROFILE_LOOP = 'for f in /etc/profile.d/*.sh; do [ -r "$f" ] && . "$f"; done\n';
export const PROFILE_LINE = `[ -f ${PROFILE} ] && . ${PROFILE}`;

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes (or appends to) a file inside the container; a file it creates gets `owner`. */
async function write(host: string, data: string, opts: { append: boolean; mode: number; owner: { uid: number; gid: number } }): Promise<void> {
  const created = !(await exists(host));
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | (opts.append ? constants.O_APPEND : constants.O_TRUNC);
  const fh = await open(host, flags, opts.mode);
  try {
    // Mode and owner before the data: a file that was there keeps its old mode until then.
    if (created || !opts.append) {
      await fh.chmod(opts.mode);
      await fh.chown(opts.owner.uid, opts.owner.gid);
    }
    await fh.write(data);
  } finally {
    await fh.close();
  }
}

/** `user`: who the job's sessions run as; the profile holds the job's secrets, so it is theirs alone (0600). */
export async function writeProfileFiles(root: string, user: TargetUser, script: string): Promise<void> {
  const rootOwner = { uid: 0, gid: 0 };
  const owner = { uid: user.uid, gid: user.gid };
  const dir = await resolveIn(root, posix.dirname(PROFILE), '/');
  await mkdir(dir.host, { recursive: true, mode: 0o755 });
  const profile = await resolveIn(root, PROFILE, '/', false);
  await write(profile.host, script, { append: false, mode: 0o600, owner });
  const etcProfile = await resolveIn(root, '/etc/profile', '/', false);
  if (!(await exists(etcProfile.host))) await write(etcProfile.host, PROFILE_LOOP, { append: false, mode: 0o644, owner: rootOwner });

  // A user without a home of its own (an unknown uid): nothing of the image's root to touch.
  if ((user.home || '/') === '/' && user.uid !== 0) return;
  const home = await resolveIn(root, user.home || '/', '/');
  if (!(await exists(home.host))) {
    await mkdir(home.host, { recursive: true, mode: 0o755 });
    const fh = await open(home.host, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    await fh.chown(owner.uid, owner.gid).finally(() => fh.close());
  }
  for (const name of ['.profile', '.bashrc']) {
    // Best effort, as `printf >> ~/.profile` was: a link to nowhere leaves that hook out.
    try {
      const f = await resolveIn(root, posix.join(home.virtual, name), '/');
      const text = await readFile(f.host, 'utf8').catch(() => '');
      if (text.split('\n').includes(PROFILE_LINE)) continue;
      await write(f.host, `${PROFILE_LINE}\n`, { append: true, mode: 0o644, owner });
    } catch {
      /* skipped */
    }
  }
}
