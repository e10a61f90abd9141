// A private folder for one session inside the target's /tmp (0700, owned by the session user):
// where the agent puts what the session's processes must open (the agent-forwarding socket, the
// FIFOs of a container exec). /tmp may itself be a symlink in an image: it is resolved inside the
// target. The name is random and mkdir never follows a link, so nothing in the target can point it
// elsewhere.
import { randomBytes } from 'node:crypto';
import { chown, mkdir } from 'node:fs/promises';
import { hostPath, resolveIn } from './confine';
import type { TargetUser } from './target';

export interface PrivateDir {
  /** As the target sees it. */
  virtual: string;
  /** The same folder as a path on the agent's host. */
  host: string;
}

export async function makePrivateTmpDir(root: string, user: TargetUser, prefix: string): Promise<PrivateDir> {
  const tmp = await resolveIn(root, '/tmp', '/');
  await mkdir(tmp.host, { recursive: true, mode: 0o1777 });
  const virtual = `${tmp.virtual === '/' ? '' : tmp.virtual}/${prefix}-${randomBytes(6).toString('hex')}`;
  const host = hostPath(root, virtual);
  await mkdir(host, { mode: 0o700 });
  await chown(host, user.uid, user.gid);
  return { virtual, host };
}
