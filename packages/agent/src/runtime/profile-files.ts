// The job's env for every shell in a container, written straight into the container's filesystem
// (/proc/<pid>/root) by the agent, which runs as root on the host: /etc/profile.d/dstack.sh, an
// /etc/profile that reads profile.d where the image has none, and one line sourcing the profile in
// the user's ~/.profile and ~/.bashrc (shells that skip /etc/profile still read those). Two
// `docker exec`s did this before, on the way to the first SSH session.
//
// The image is a stranger's: every path is resolved inside the container's root from held folders
// (safe-fs/in-root.ts), so a link in the image, absolute or relative, or one swapped in while we
// work, means a file of the container, never one of the host. The profile holds the job's env
// (secrets included): it is the job user's, mode 0600. The rc files are the user's own: the line is
// appended only to a regular file that user owns, so a link from ~/.bashrc to a file of root's in
// the image cannot get it written to. Callers fall back to exec when this throws (an agent that is
// not root).
import { closeSync, constants, fstatSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { posix } from 'node:path';
import { HeldDir, setModeOwner, type Owner } from '../safe-fs/held-dir';
import { ensureDirInRoot, resolveInRoot } from '../safe-fs/in-root';
import type { TargetUser } from '../ssh-server/target';

export const PROFILE = '/etc/profile.d/dstack.sh';
export const PROFILE_LOOP = 'for f in /etc/profile.d/*.sh; do [ -r "$f" ] && . "$f"; done\n';
export const PROFILE_LINE = `[ -f ${PROFILE} ] && . ${PROFILE}`;
/** The profile's mode: its env may hold secrets. */
export const PROFILE_MODE = 0o600;

const ROOT: Owner = { uid: 0, gid: 0 };

/** Replaces entry `name` of `dir` with `data` (written aside, then renamed over it: never through a link). */
function replaceFile(dir: HeldDir, name: string, data: string, mode: number, owner: Owner): void {
  const tmp = `.${name}.dstack-${process.pid}`;
  try {
    unlinkSync(dir.at(tmp));
  } catch {
    /* not there */
  }
  const fd = dir.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    writeSync(fd, data);
    setModeOwner(fd, fstatSync(fd), mode, owner);
  } finally {
    closeSync(fd);
  }
  renameSync(dir.at(tmp), dir.at(name));
}

/** Creates entry `name` of `dir` with `data` unless something is there already. */
function createFile(dir: HeldDir, name: string, data: string, mode: number, owner: Owner): void {
  let fd: number;
  try {
    fd = dir.open(name, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw err;
  }
  try {
    writeSync(fd, data);
    setModeOwner(fd, fstatSync(fd), mode, owner);
  } finally {
    closeSync(fd);
  }
}

/** Adds `line` to the user's rc file `name` in `home`: created when missing, appended to when it is the user's own. */
function addHook(root: HeldDir, home: string, name: string, user: TargetUser): void {
  const r = resolveInRoot(root, posix.join(home, name));
  if (!r.parent || !r.name) {
    r.parent?.close();
    return; // a link to nowhere, or into a folder that does not exist: that hook is left out
  }
  try {
    if (!r.parent.lstat(r.name)) {
      createFile(r.parent, r.name, `${PROFILE_LINE}\n`, 0o644, user);
      return;
    }
    const fd = r.parent.open(r.name, constants.O_RDWR | constants.O_APPEND | constants.O_NONBLOCK);
    try {
      const st = fstatSync(fd);
      if (!st.isFile() || st.nlink !== 1 || (user.uid !== 0 && st.uid !== user.uid)) return;
      const text = readFileSync(fd, 'utf8');
      if (text.split('\n').includes(PROFILE_LINE)) return;
      writeSync(fd, `${text && !text.endsWith('\n') ? '\n' : ''}${PROFILE_LINE}\n`);
    } finally {
      closeSync(fd);
    }
  } finally {
    r.parent.close();
  }
}

export async function writeProfileFiles(rootPath: string, user: TargetUser, script: string): Promise<void> {
  const root = HeldDir.open(rootPath);
  try {
    const profileDir = ensureDirInRoot(root, posix.dirname(PROFILE), 0o755, ROOT);
    try {
      replaceFile(profileDir, posix.basename(PROFILE), script, PROFILE_MODE, user);
    } finally {
      profileDir.close();
    }
    const etc = ensureDirInRoot(root, '/etc', 0o755, ROOT);
    try {
      createFile(etc, 'profile', PROFILE_LOOP, 0o644, ROOT);
    } finally {
      etc.close();
    }

    // A user without a home of its own (an unknown uid): nothing of the image's root to touch.
    if ((user.home || '/') === '/' && user.uid !== 0) return;
    const home = ensureDirInRoot(root, user.home || '/', 0o755, user);
    home.close();
    for (const name of ['.profile', '.bashrc']) {
      // Best effort, as `printf >> ~/.profile` was.
      try {
        addHook(root, user.home || '/', name, user);
      } catch {
        /* skipped */
      }
    }
  } finally {
    root.close();
  }
}
