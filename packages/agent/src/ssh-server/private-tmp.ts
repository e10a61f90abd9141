// A private folder for one session inside the target's /tmp: where the agent puts what the
// session's processes must open (the agent-forwarding socket, the FIFOs of a container exec). /tmp
// may itself be a link in an image: it is resolved inside the target's root (safe-fs/in-root.ts).
// The name is random, mkdir never follows a link, and the folder is held by a descriptor from the
// moment it exists.
//
// The folder is made root's and 0700, the agent fills it, and only then hands it over (handOver):
// the entries first, the folder last, never following a link. Once the session's user owns the
// folder it can swap an entry for a link: everything after the hand-over goes through the held
// folder (removal included), never by path.
import { randomBytes } from 'node:crypto';
import { chownSync, lchownSync, mkdirSync } from 'node:fs';
import { HeldDir } from '../safe-fs/held-dir';
import { resolveInRoot } from '../safe-fs/in-root';
import { removeEntry } from '../safe-fs/tree-walk';
import type { TargetUser } from './target';

export interface PrivateDir {
  /** As the target sees it. */
  virtual: string;
  /** The folder, held. */
  dir: HeldDir;
  /** Removes the folder and all it holds, and lets go of it. */
  remove(): Promise<void>;
}

export function makePrivateTmpDir(rootPath: string, prefix: string): PrivateDir {
  const root = HeldDir.open(rootPath);
  let tmp: HeldDir;
  let tmpVirtual: string;
  try {
    const r = resolveInRoot(root, '/tmp');
    tmpVirtual = r.virtual;
    if (!r.parent) throw Object.assign(new Error(`no folder for ${r.virtual} in the target`), { code: 'ENOENT' });
    try {
      tmp = r.name ? r.parent.ensureDir(r.name, 0o1777, { uid: 0, gid: 0 }) : r.parent.dup();
    } finally {
      r.parent.close();
    }
  } finally {
    root.close();
  }
  const name = `${prefix}-${randomBytes(6).toString('hex')}`;
  let dir: HeldDir;
  try {
    mkdirSync(tmp.at(name), 0o700);
    dir = tmp.openDir(name);
  } catch (err) {
    tmp.close();
    throw err;
  }
  let removed: Promise<void> | undefined;
  return {
    virtual: `${tmpVirtual === '/' ? '' : tmpVirtual}/${name}`,
    dir,
    remove: () =>
      (removed ??= removeEntry(tmp, name).finally(() => {
        dir.close();
        tmp.close();
      })),
  };
}

/** Gives the named entries of the folder, then the folder itself, to the user (links are never followed). */
export function handOver(dir: PrivateDir, user: TargetUser, entries: string[]): void {
  for (const e of entries) lchownSync(dir.dir.at(e), user.uid, user.gid);
  chownSync(dir.dir.path, user.uid, user.gid); // the held folder itself, through its magic link
}
