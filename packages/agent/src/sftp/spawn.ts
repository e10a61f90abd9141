// Where an sftp subsystem runs, as sshd's `Subsystem sftp` would: the target's own sftp-server
// where it has one, started like any session (as the session's user, inside the container);
// otherwise the agent's own (sftp/helper.ts) in a process of its own that becomes the session's
// user before it serves, with the target's root folder handed over as a descriptor. Either way
// the kernel checks permissions as that user: nothing is done with the agent's root privileges.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isSea } from '../native/sea';
import { HeldDir } from '../safe-fs/held-dir';
import { readFileInRoot, statInRoot } from '../safe-fs/in-root';
import { sessionUser } from '../ssh-server/target-user';
import { pipedSession } from '../ssh-server/host-process';
import type { SessionProcess, SessionTarget, TargetUser } from '../ssh-server/target';
import { shellWord } from '@dstack/core/quoting';
import { ROOT_FD } from './helper';

/** Where distributions put OpenSSH's sftp-server. */
export const SFTP_SERVER_PATHS = [
  '/usr/lib/openssh/sftp-server',
  '/usr/libexec/openssh/sftp-server',
  '/usr/lib/ssh/sftp-server',
  '/usr/libexec/sftp-server',
  '/usr/lib/sftp-server',
];

let helperCommand: string[] | undefined;

/** How to start the agent's own executable (tests that run the agent's code in-process set a bundle). */
export function setSftpHelperCommand(argv: string[] | undefined): void {
  helperCommand = argv;
}

/** The agent's own executable and its leading arguments: the SFTP and listen helpers run it. */
export function helperArgv(): string[] {
  if (helperCommand) return helperCommand;
  return isSea() ? [process.execPath] : [process.execPath, ...process.execArgv, process.argv[1]];
}

/** The target's own sftp-server (an executable regular file), as the target sees its path. */
export function findSftpServer(rootPath: string): string | undefined {
  const root = HeldDir.open(rootPath);
  try {
    return SFTP_SERVER_PATHS.find((p) => {
      const st = statInRoot(root, p);
      return !!st && st.isFile() && (st.mode & 0o111) !== 0;
    });
  } finally {
    root.close();
  }
}

/** The user's groups in the target's /etc/group: its primary group and those naming it as a member. */
export function groupsOf(groupFile: string, user: TargetUser): number[] {
  const gids = new Set([user.gid]);
  for (const line of groupFile.split('\n')) {
    const f = line.split(':');
    if (f.length >= 4 && /^\d+$/.test(f[2]) && f[3].split(',').includes(user.name)) gids.add(Number(f[2]));
  }
  return [...gids];
}

/** An id inside a user namespace as this host knows it (/proc/<pid>/uid_map lines: inside outside count). */
export function mapId(map: string, id: number): number {
  for (const line of map.trim().split('\n')) {
    const [inside, outside, count] = line.trim().split(/\s+/).map(Number);
    if (id >= inside && id < inside + count) return outside + (id - inside);
  }
  throw new Error(`id ${id} has no mapping in the container's user namespace`);
}

function hostIds(rootPath: string, ids: { uid: number; gid: number; groups: number[] }): typeof ids {
  const m = /^\/proc\/(\d+)\/root$/.exec(rootPath);
  if (!m) return ids;
  const uidMap = readFileSync(`/proc/${m[1]}/uid_map`, 'utf8');
  const gidMap = readFileSync(`/proc/${m[1]}/gid_map`, 'utf8');
  return { uid: mapId(uidMap, ids.uid), gid: mapId(gidMap, ids.gid), groups: ids.groups.map((g) => mapId(gidMap, g)) };
}

/** The agent's own SFTP server in a process of its own, as `user`. */
function spawnHelper(rootPath: string, user: TargetUser): SessionProcess {
  const root = HeldDir.open(rootPath);
  try {
    const groupFile = readFileInRoot(root, '/etc/group')?.data.toString('utf8') ?? '';
    const ids = hostIds(rootPath, { uid: user.uid, gid: user.gid, groups: groupsOf(groupFile, user) });
    const [cmd, ...pre] = helperArgv();
    const args = [
      ...pre,
      'sftp-server',
      '--uid',
      String(ids.uid),
      '--gid',
      String(ids.gid),
      '--groups',
      ids.groups.join(','),
      '--home',
      user.home || '/',
    ];
    const stdio: ('pipe' | number)[] = ['pipe', 'pipe', 'pipe'];
    stdio[ROOT_FD] = root.fd;
    // A clean environment: the helper needs none of the agent's.
    const child = spawn(cmd, args, { stdio, env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' } });
    return pipedSession(child, (sig) => child.kill(sig));
  } finally {
    root.close(); // the child holds its own copy
  }
}

/** Starts the sftp subsystem of a session: the target's sftp-server, else the agent's own. */
export async function spawnSftp(target: SessionTarget, env: Record<string, string>, log: (line: string) => void): Promise<SessionProcess> {
  const [rootPath, user] = await Promise.all([target.fsRoot(), sessionUser(target)]);
  // DSTACK_AGENT_SFTP=own: always the agent's (tests and benches of it on images that have one).
  const own = process.env.DSTACK_AGENT_SFTP === 'own' ? undefined : findSftpServer(rootPath);
  // In the user's home, as sshd starts a subsystem: relative sftp paths start there.
  if (own) return target.spawn({ command: `cd ${shellWord(user.home || '/')} 2>/dev/null; exec ${shellWord(own)}`, env });
  log(`sftp: the target has no sftp-server; serving with the agent's own as ${user.name} (uid ${user.uid})`);
  return spawnHelper(rootPath, user);
}
