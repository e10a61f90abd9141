// Remote port forwarding (ssh -R): the `tcpip-forward` / `cancel-tcpip-forward` global requests
// (RFC 4254 §7.1). Each listener is opened by a helper process (listen-helper.ts) inside the job's
// network namespace, as the session's user, never by the agent as root: a port below 1024 needs a
// root session user, as with sshd. It is bound to loopback whatever address the client asks for
// (OpenSSH's default GatewayPorts no), so only the job's own processes reach it. Every accepted
// connection becomes a `forwarded-tcpip` channel to the client and counts as activity; the listeners
// close with the SSH connection (or at cancel).
import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import type { Connection } from 'ssh2';
import { helperArgv, mapId } from '../sftp/spawn';
import type { ListenHelperReply } from './listen-helper';
import { sessionUser } from './target-user';
import type { SessionTarget, TargetUser } from './target';

export interface ReverseForwardContext {
  conn: Connection;
  target: SessionTarget;
  /** Marks one forwarded channel open; the returned function closes it. */
  begin: () => () => void;
  log: (line: string) => void;
}

type Reply = ((port?: number) => void) | undefined;

/** Listeners one connection may hold (each is a helper process to start): beyond, requests are refused. */
const MAX_FORWARDS = 64;

interface Listener {
  server: Server;
  /** The port bound: the one asked for, or the one picked for a request of port 0. */
  port: number;
  sockets: Set<Socket>;
}

/** OpenSSH with GatewayPorts no: loopback, IPv6's when the client names it. */
export function loopbackFor(bindAddr: string): string {
  return bindAddr === '::1' ? '::1' : '127.0.0.1';
}

/** Why a request is refused before any listener is tried, or undefined. */
export function refusal(bindPort: number, user: Pick<TargetUser, 'uid' | 'name'>): string | undefined {
  if (!Number.isInteger(bindPort) || bindPort < 0 || bindPort > 65535) return `port ${bindPort} is not a TCP port`;
  if (bindPort !== 0 && bindPort < 1024 && user.uid !== 0) return `port ${bindPort} is privileged and ${user.name} is not root`;
  return undefined;
}

function sameNetNs(pid: string): boolean {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`) === readlinkSync('/proc/self/ns/net');
  } catch {
    return true;
  }
}

/** Opens the listener as `user` inside the target's network namespace, through the helper. */
async function openListener(
  target: SessionTarget,
  user: TargetUser,
  host: string,
  port: number,
): Promise<{ server: Server; port: number }> {
  const pid = /^\/proc\/(\d+)\/root$/.exec(await target.fsRoot())?.[1];
  // The user as this host knows it: a container in a user namespace maps its ids (its root is not ours).
  const uid = pid ? mapId(readFileSync(`/proc/${pid}/uid_map`, 'utf8'), user.uid) : user.uid;
  const gid = pid ? mapId(readFileSync(`/proc/${pid}/gid_map`, 'utf8'), user.gid) : user.gid;
  const [cmd, ...pre] = helperArgv();
  const args = [...pre, 'tcp-listen', '--uid', String(uid), '--gid', String(gid), '--host', host, '--port', String(port)];
  // A container with a network of its own is entered first (nsenter, as root: the helper drops to
  // the user after). Containers here share the host's network, where the agent already is.
  const argv = pid && !sameNetNs(pid) ? ['nsenter', `--net=/proc/${pid}/ns/net`, '--', cmd, ...args] : [cmd, ...args];
  const child = spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(stderr.trim() || `the listen helper exited with ${code}`)));
    child.once('message', (msg: ListenHelperReply, handle?: Server) => {
      if ('port' in msg && handle) resolve({ server: handle, port: msg.port });
      else reject(new Error('error' in msg ? msg.error : 'the listen helper sent no socket'));
    });
  });
}

/** One SSH connection's reverse forwards. */
export class ReverseForwards {
  /** By the address and port the client asked for: what it names in a cancel. */
  private readonly listeners = new Map<string, Listener>();
  /** Requests whose listener is being opened, by key (a second one for the same key is refused). */
  private readonly pending = new Set<string>();
  private closed = false;

  constructor(private readonly ctx: ReverseForwardContext) {}

  /** ssh2's `request` event; `accept`/`reject` are undefined when the client wants no reply. */
  request(accept: Reply, reject: (() => void) | undefined, name: string, info: { bindAddr: string; bindPort: number }): void {
    if (name === 'tcpip-forward') void this.forward(accept, reject, info);
    else if (name === 'cancel-tcpip-forward') this.cancel(accept, reject, info);
    else reject?.();
  }

  private async forward(accept: Reply, reject: (() => void) | undefined, info: { bindAddr: string; bindPort: number }): Promise<void> {
    const key = `${info.bindAddr}:${info.bindPort}`;
    const user = await sessionUser(this.ctx.target).catch(() => undefined);
    const why = !user
      ? 'the session user is not known'
      : this.listeners.has(key) || this.pending.has(key)
        ? `${key} is already forwarded`
        : this.listeners.size + this.pending.size >= MAX_FORWARDS
          ? `this connection holds ${MAX_FORWARDS} remote forwards already`
          : refusal(info.bindPort, user);
    if (why || !user) {
      this.ctx.log(`ssh: remote forward ${key} refused: ${why}`);
      reject?.();
      return;
    }
    const host = loopbackFor(info.bindAddr);
    let opened: { server: Server; port: number };
    this.pending.add(key);
    try {
      opened = await openListener(this.ctx.target, user, host, info.bindPort);
    } catch (err) {
      this.ctx.log(
        `ssh: remote forward ${key} refused: cannot listen on ${host}:${info.bindPort} as ${user.name}: ${(err as Error).message}`,
      );
      reject?.();
      return;
    } finally {
      this.pending.delete(key);
    }
    if (this.closed) {
      opened.server.close();
      return;
    }
    const sockets = new Set<Socket>();
    this.listeners.set(key, { server: opened.server, port: opened.port, sockets });
    opened.server.on('connection', (sock) => this.relay(sock, info.bindAddr, opened.port, sockets));
    opened.server.on('error', (err) => this.ctx.log(`ssh: remote forward ${key}: ${err.message}`));
    this.ctx.log(`ssh: remote forward ${host}:${opened.port} (as ${user.name}) to the client's ${key}`);
    // The port is in the reply only when the client asked for any (RFC 4254 §7.1).
    accept?.(info.bindPort === 0 ? opened.port : undefined);
  }

  private relay(sock: Socket, bindAddr: string, port: number, sockets: Set<Socket>): void {
    sockets.add(sock);
    sock.pause();
    const end = this.ctx.begin();
    const finish = () => {
      end();
      sockets.delete(sock);
      sock.destroy();
    };
    sock.once('close', finish);
    sock.on('error', finish);
    this.ctx.conn.forwardOut(bindAddr, port, sock.remoteAddress ?? '127.0.0.1', sock.remotePort ?? 0, (err, channel) => {
      if (err || sock.destroyed) {
        channel?.close();
        return finish();
      }
      sock.pipe(channel).pipe(sock);
      channel.on('close', finish);
      sock.resume();
    });
  }

  private cancel(accept: Reply, reject: (() => void) | undefined, info: { bindAddr: string; bindPort: number }): void {
    // A forward of port 0 may be cancelled by the port it got.
    const found = [...this.listeners].find(
      ([key, l]) => key === `${info.bindAddr}:${info.bindPort}` || (key === `${info.bindAddr}:0` && l.port === info.bindPort),
    );
    if (!found) {
      reject?.();
      return;
    }
    const [key, l] = found;
    this.listeners.delete(key);
    this.stop(l);
    accept?.();
  }

  private stop(l: Listener): void {
    l.server.close();
    for (const s of l.sockets) s.destroy();
  }

  /** The SSH connection ended: every listener and relayed connection goes. */
  closeAll(): void {
    this.closed = true;
    for (const l of this.listeners.values()) this.stop(l);
    this.listeners.clear();
  }
}
