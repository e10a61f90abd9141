// The user sessions run as, looked up in the target's own /etc/passwd (a container's users are not
// the host's). Files the agent creates for a session (sftp uploads, the agent-forwarding socket)
// are handed to this user.
import { homedir, userInfo } from 'node:os';
import { HeldDir } from '../safe-fs/held-dir';
import { readFileInRoot, statInRoot } from '../safe-fs/in-root';
import type { SessionTarget, TargetUser } from './target';

/** The agent's own user: for targets that do not say. */
export function agentUser(): TargetUser {
  const me = userInfo();
  return { name: me.username, uid: me.uid, gid: me.gid, home: homedir() || '/' };
}

export async function sessionUser(target: SessionTarget): Promise<TargetUser> {
  if (target.user) return target.user();
  return { ...agentUser(), home: '/' };
}

/**
 * Resolves Docker's `User` form ("", "name", "uid", "name:group", "uid:gid") against the passwd
 * and group files under `root`. An unknown numeric uid is accepted as Docker does (home "/").
 */
export async function lookupUser(rootPath: string, spec: string | undefined): Promise<TargetUser> {
  const root = HeldDir.open(rootPath);
  try {
    return lookupUserIn(root, spec);
  } finally {
    root.close();
  }
}

function lookupUserIn(root: HeldDir, spec: string | undefined): TargetUser {
  const [userPart, groupPart] = (spec || 'root').split(':');
  const passwd = readLines(root, '/etc/passwd');
  const entry = passwd
    .map((l) => l.split(':'))
    .find((f) => f.length >= 7 && (f[0] === userPart || (/^\d+$/.test(userPart) && f[2] === userPart)));
  let user: TargetUser;
  if (entry) user = { name: entry[0], uid: Number(entry[2]), gid: Number(entry[3]), home: entry[5] || '/' };
  else if (/^\d+$/.test(userPart)) user = { name: userPart, uid: Number(userPart), gid: Number(userPart), home: '/' };
  else if (userPart === 'root') user = { name: 'root', uid: 0, gid: 0, home: '/root' };
  else throw new Error(`user ${userPart} is not in the target's /etc/passwd`);
  if (groupPart !== undefined) {
    if (/^\d+$/.test(groupPart)) user.gid = Number(groupPart);
    else {
      const group = readLines(root, '/etc/group')
        .map((l) => l.split(':'))
        .find((f) => f[0] === groupPart);
      if (!group) throw new Error(`group ${groupPart} is not in the target's /etc/group`);
      user.gid = Number(group[2]);
    }
  }
  return user;
}

/** The lines of a file of the target's (links resolved inside its root, as the target reads it). */
function readLines(root: HeldDir, path: string): string[] {
  return readFileInRoot(root, path)?.data.toString('utf8').split('\n') ?? [];
}

/** What identifies the target's user database now: it is looked up again only when this changes. */
export function userDbKey(rootPath: string): string {
  const root = HeldDir.open(rootPath);
  try {
    return ['/etc/passwd', '/etc/group']
      .map((f) => {
        const st = statInRoot(root, f);
        return st ? `${st.ino}:${st.mtimeMs}:${st.size}` : '-';
      })
      .join(' ');
  } finally {
    root.close();
  }
}
