// The job SSH server's TCP listener: the limits that need no SSH are applied at accept, before
// ssh2 sees the socket. A connection over max_connections or max_startups is destroyed at once
// (ssh2 never makes a parser, buffers or keys for it); one admitted gets its login grace time from
// here, so a client that never sends its banner is dropped too (ssh2 only tells of a connection
// once the banner came).
import { createServer, type Server, type Socket } from 'node:net';
import type { SshServerLimits } from '@dstack/core/ssh-server-limits';
import { ConnectionGate, describeDrop, type Admission, type DropLog } from './limits';

export interface GuardedListener {
  server: Server;
  /** The connection on this socket authenticated: its grace timer stops, it is no longer a startup. */
  loggedIn(socket: Socket | undefined): void;
  /** Destroys every admitted socket (the server is closing). */
  destroyAll(): void;
}

const peerOf = (s: Socket) => `${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`;

export function guardedListener(limits: SshServerLimits, drops: DropLog, onSocket: (socket: Socket) => void): GuardedListener {
  const gate = new ConnectionGate(limits);
  const admitted = new Map<Socket, { admission: Admission; grace: NodeJS.Timeout }>();
  const server = createServer((socket) => {
    const admission = gate.admit();
    if (typeof admission === 'string') {
      const peer = peerOf(socket);
      socket.destroy();
      drops.drop(admission, `ssh: ${peer}: ${describeDrop(admission, limits)}`);
      return;
    }
    const grace = setTimeout(() => {
      drops.drop('login_grace_time', `ssh: ${peerOf(socket)}: ${describeDrop('login_grace_time', limits)}`);
      // Not end(): a client that reads nothing would keep the socket half-open.
      socket.destroy();
    }, limits.loginGraceTimeSeconds * 1000);
    admitted.set(socket, { admission, grace });
    socket.once('close', () => {
      clearTimeout(grace);
      admission.closed();
      admitted.delete(socket);
    });
    onSocket(socket);
  });
  return {
    server,
    loggedIn: (socket) => {
      const a = socket && admitted.get(socket);
      if (!a) return;
      clearTimeout(a.grace);
      a.admission.loggedIn();
    },
    destroyAll: () => {
      for (const s of admitted.keys()) s.destroy();
    },
  };
}
