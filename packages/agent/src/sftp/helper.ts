// The process the agent's own SFTP server runs in (`dstack-agent sftp-server`, started by
// sftp/spawn.ts). It starts as root, holding the target's root folder as descriptor 3, becomes the
// session's user (groups, gid, uid: nothing of root's is left, and it cannot come back) before it
// reads a byte, then serves SFTP on stdin and stdout. Every permission is the kernel's to check.
import { HeldDir } from '../safe-fs/held-dir';
import { SftpServer } from './server';
import { serveWire } from './wire';

export interface SftpHelperOptions {
  uid: number;
  gid: number;
  groups: number[];
  home: string;
}

/** The root folder travels as this descriptor. */
export const ROOT_FD = 3;

export function dropPrivileges(o: Pick<SftpHelperOptions, 'uid' | 'gid' | 'groups'>): void {
  if (process.getuid?.() === 0) {
    process.setgroups!(o.groups.length ? o.groups : [o.gid]);
    process.setgid!(o.gid);
    process.setuid!(o.uid);
  }
  if (process.getuid!() !== o.uid || process.geteuid!() !== o.uid || process.getgid!() !== o.gid) {
    throw new Error(`could not become uid ${o.uid} gid ${o.gid}`);
  }
  if (o.uid !== 0) {
    let back = false;
    try {
      process.setuid!(0);
      back = true;
    } catch {
      /* as it should be */
    }
    if (back) throw new Error('root privileges could be regained after dropping them');
  }
}

export async function runSftpHelper(o: SftpHelperOptions): Promise<void> {
  dropPrivileges(o);
  const root = HeldDir.fromFd(ROOT_FD, 'the target root');
  const server = new SftpServer(root, o.home);
  try {
    await serveWire(
      process.stdin,
      (packet) => new Promise<void>((resolve, reject) => process.stdout.write(packet, (err) => (err ? reject(err) : resolve()))),
      server,
    );
  } finally {
    server.closeAll();
  }
}
