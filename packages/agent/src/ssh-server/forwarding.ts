// Local port forwarding (ssh -L). Containers share the host's network, so the agent connects to
// the requested host:port itself; a unix socket (ssh -L port:/path) is reached through the
// target's filesystem. Each open forwarded channel counts as activity.
import { connect, type Socket } from 'node:net';
import type { ServerChannel, SocketRequestInfo, TcpipRequestInfo } from 'ssh2';
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { HeldDir, O_PATH, fdPath } from '../safe-fs/held-dir';
import { resolveInRoot } from '../safe-fs/in-root';
import { sessionUser } from './target-user';
import type { SessionTarget, TargetUser } from './target';

type Accept = () => ServerChannel;

function splice(sock: Socket, accept: Accept, reject: () => void, end: () => void, onClose: (fn: () => void) => void): void {
  let channel: ServerChannel | undefined;
  const finish = () => {
    end();
    sock.destroy();
    channel?.close();
  };
  sock.once('connect', () => {
    channel = accept();
    if (!channel) return finish();
    sock.pipe(channel).pipe(sock);
    channel.on('close', finish);
    sock.on('close', finish);
    onClose(finish);
  });
  sock.once('error', () => {
    if (!channel) {
      end();
      reject();
    } else finish();
  });
}

export function forwardTcp(
  accept: Accept,
  reject: () => void,
  info: TcpipRequestInfo,
  begin: () => () => void,
  onClose: (fn: () => void) => void,
): void {
  const end = begin();
  splice(connect({ host: info.destIP, port: info.destPort }), accept, reject, end, onClose);
}

/**
 * Whether `user` may connect to a socket with these owner and mode bits (connect needs write
 * permission on the socket file). The agent connects as root on the user's behalf, so it checks;
 * supplementary groups are not known here, so only the user's primary group counts.
 */
export function mayConnect(st: { uid: number; gid: number; mode: number }, user: TargetUser): boolean {
  if (user.uid === 0) return true;
  if (st.uid === user.uid) return (st.mode & 0o200) !== 0;
  if (st.gid === user.gid) return (st.mode & 0o020) !== 0;
  return (st.mode & 0o002) !== 0;
}

/**
 * The socket at `path` inside the target, held by an O_PATH descriptor of the socket itself: the
 * connect goes through that descriptor's magic link, so a link swapped in after the lookup (one
 * pointing at the host's docker.sock, say) is never followed.
 */
async function holdSocket(target: SessionTarget, path: string): Promise<number> {
  const [rootPath, user] = await Promise.all([target.fsRoot(), sessionUser(target)]);
  const root = HeldDir.open(rootPath);
  try {
    const r = resolveInRoot(root, path, { home: user.home });
    if (!r.parent || !r.name) throw new Error(`no socket at ${r.virtual}`);
    let fd: number;
    try {
      fd = openSync(r.parent.at(r.name), O_PATH | constants.O_NOFOLLOW);
    } finally {
      r.parent.close();
    }
    const st = fstatSync(fd);
    if (!st.isSocket() || !mayConnect(st, user)) {
      closeSync(fd);
      throw new Error(`${r.virtual}: not a socket the session's user may connect to`);
    }
    return fd;
  } finally {
    root.close();
  }
}

export function forwardUnix(
  accept: Accept,
  reject: () => void,
  info: SocketRequestInfo,
  target: SessionTarget,
  begin: () => () => void,
  onClose: (fn: () => void) => void,
): void {
  const end = begin();
  holdSocket(target, info.socketPath).then(
    (fd) => {
      const sock = connect({ path: fdPath(fd) });
      let held = true;
      const release = () => {
        if (held) closeSync(fd);
        held = false;
      };
      for (const event of ['connect', 'error', 'close']) sock.once(event, release);
      splice(sock, accept, reject, end, onClose);
    },
    () => {
      end();
      reject();
    },
  );
}
