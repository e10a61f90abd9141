// SSH agent forwarding (ssh -A). A unix socket is made inside the target's filesystem (a private
// 0700 directory under /tmp, owned by the session user) and SSH_AUTH_SOCK points at it; each
// connection to it becomes an auth-agent@openssh.com channel back to the client.
import { createServer, type Server, type Socket } from 'node:net';
import type { Connection, ServerChannel } from 'ssh2';
import { handOver, makePrivateTmpDir } from './private-tmp';
import { sessionUser } from './target-user';
import type { SessionTarget } from './target';

export interface AgentForward {
  /** The socket's path as the target sees it. */
  socketPath: string;
  close(): Promise<void>;
}

// ssh2's server has no public call for this channel type; its protocol layer has the message, so
// the channel is opened the way ssh2 opens forwarded-tcpip ones (Connection internals, ssh2 1.x).
const MAX_WINDOW = 2 * 1024 * 1024;
const PACKET_SIZE = 32 * 1024;

interface ConnectionInternals {
  _chanMgr: { add(cb: unknown): number };
  _protocol: { openssh_authAgent(chan: number, window: number, packet: number): void };
}

export function openAuthAgentChannel(conn: Connection): Promise<ServerChannel> {
  return new Promise((resolve, reject) => {
    const internals = conn as unknown as ConnectionInternals;
    const callback = Object.assign((err: Error | undefined, channel: ServerChannel) => (err ? reject(err) : resolve(channel)), {
      type: 'auth-agent@openssh.com',
    });
    const local = internals._chanMgr.add(callback);
    if (local === -1) return reject(new Error('no free channels'));
    internals._protocol.openssh_authAgent(local, MAX_WINDOW, PACKET_SIZE);
  });
}

function relay(sock: Socket, conn: Connection, log: (line: string) => void): void {
  sock.pause();
  openAuthAgentChannel(conn).then(
    (channel) => {
      sock.pipe(channel).pipe(sock);
      sock.on('error', () => channel.close());
      channel.on('close', () => sock.destroy());
      sock.resume();
    },
    (err: Error) => {
      log(`agent forwarding: the client refused the channel: ${err.message}`);
      sock.destroy();
    },
  );
}

export async function startAgentForward(conn: Connection, target: SessionTarget, log: (line: string) => void): Promise<AgentForward> {
  const [root, user] = await Promise.all([target.fsRoot(), sessionUser(target)]);
  const dir = makePrivateTmpDir(root, 'dstack-ssh');
  const open = new Set<Socket>();
  const server: Server = createServer((sock) => {
    open.add(sock);
    sock.on('close', () => open.delete(sock));
    relay(sock, conn, log);
  });
  try {
    // Bound through the held folder: the agent's own descriptor names it, whatever its path.
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(dir.dir.at('agent.sock'), () => resolve());
    });
    server.on('error', (err) => log(`agent forwarding: ${err.message}`));
    // While the folder is still root's (private-tmp.ts): nothing in it can have been swapped yet.
    dir.dir.chmod('agent.sock', 0o600);
    handOver(dir, user, ['agent.sock']);
  } catch (err) {
    server.close();
    await dir.remove().catch(() => {});
    throw err;
  }
  let closed: Promise<void> | undefined;
  return {
    socketPath: `${dir.virtual}/agent.sock`,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const sock of open) sock.destroy();
      }).then(() => dir.remove())),
  };
}
