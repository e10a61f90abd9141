// A private folder for one session inside the target's /tmp: where the agent puts what the
// session's processes must open (the agent-forwarding socket, the FIFOs of a container exec). /tmp
// may itself be a symlink in an image: it is resolved inside the target. The name is random and
// mkdir never follows a link.
//
// The folder is made root's and 0700, the agent fills it, and only then hands it over (handOver):
// the entries first, the folder last, with lchown, which never follows a link. Once the session's
// user owns the folder it can swap an entry for a symlink, and a symlink under /proc/<pid>/root
// with an absolute target points at the host's files: nothing is done by path after the hand-over.
import { randomBytes } from 'node:crypto';
import { lchown, mkdir } from 'node:fs/promises';
import { hostPath, resolveIn } from './confine';
import type { TargetUser } from './target';

export interface PrivateDir {
  /** As the target sees it. */
  virtual: string;
  /** The same folder as a path on the agent's host. */
  host: string;
}

export async function makePrivateTmpDir(root: string, prefix: string): Promise<PrivateDir> {
  const tmp = await resolveIn(root, '/tmp', '/');
  await mkdir(tmp.host, { recursive: true, mode: 0o1777 });
  const virtual = `${tmp.virtual === '/' ? '' : tmp.virtual}/${prefix}-${randomBytes(6).toString('hex')}`;
  const host = hostPath(root, virtual);
  await mkdir(host, { mode: 0o700 });
  return { virtual, host };
}

/** Gives the named entries of `dir`, then `dir` itself, to the user (links are never followed). */
export async function handOver(dir: PrivateDir, user: TargetUser, entries: string[]): Promise<void> {
  for (const e of entries) await lchown(`${dir.host}/${e}`, user.uid, user.gid);
  await lchown(dir.host, user.uid, user.gid);
}
