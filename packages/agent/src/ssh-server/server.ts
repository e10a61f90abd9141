// The job's SSH server: OpenSSH clients (ssh, scp, sftp, rsync, VS Code Remote-SSH) connect here and
// land in the job's SessionTarget. Public-key auth against the job's authorized keys, the job's own
// host key, keepalives that drop a vanished client within a minute, sshd's limits on connections,
// auth attempts and sessions (limits.ts), and activity counts for the inactivity timer. ssh2's
// pure-JS crypto is enough (the single executable carries no ssh2 addon).
import type { AddressInfo, Socket } from 'node:net';
import ssh2, { type Connection, type ServerConfig } from 'ssh2';
import ssh2Crypto from 'ssh2/lib/protocol/crypto.js';
import type { Activity } from '@dstack/core/gen/agent';
import { sshServerLimits, type SshServerLimits } from '@dstack/core/ssh-server-limits';
import { guardedListener } from './accept';
import { ActivityTracker, CONNECTION_GRACE_MS } from './activity';
import { answerAuth, judgeAuth } from './auth';
import { forwardTcp, forwardUnix } from './forwarding';
import { parseAuthorizedKeys, publicKeyLine, type AuthorizedKey } from './keys';
import { AuthTries, describeDrop, DropLog } from './limits';
import { poolPacketPadding } from './packet-padding';
import { ReverseForwards } from './reverse-forward';
import { handleSession } from './session';
import type { SessionTarget } from './target';

export { generateHostKey } from './keys';

export interface JobSshServerOptions {
  /** The job's host key (OpenSSH or PEM private key). */
  hostKeyPem: string;
  /** OpenSSH public key lines; anything else is logged and ignored. */
  authorizedKeys: string[];
  target: SessionTarget;
  /** 0 (the default): a free port. */
  port?: number;
  listenHost?: string;
  /** Called whenever a count changes (not every second: ask activity() for the idle time). */
  onActivity?: (activity: Activity) => void;
  log?: (line: string) => void;
  /** Keepalive probe interval; a client that misses `keepaliveCountMax` in a row is dropped. */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** How long an authenticated connection without sessions must last to count as activity. */
  connectionGraceMs?: number;
  /** sshd-like limits; a field left out or 0: its default. */
  limits?: Partial<SshServerLimits>;
}

export interface JobSshServer {
  port: number;
  /** "ssh-ed25519 AAAA...", for the daemon's known_hosts. */
  hostPublicKey: string;
  updateAuthorizedKeys(keys: string[]): void;
  activity(): Activity;
  close(): Promise<void>;
}

// The client picks the first of its own preferences that we offer, so what we leave out decides.
// Without the addon, chacha20-poly1305 runs in JavaScript and is several times slower than AES
// through node's OpenSSL, so it is only offered when native. AES-CTR is not offered: OpenSSH
// prefers it to AES-GCM, and its MAC (HMAC-SHA-256 over every packet, on both ends) costs more
// than the cipher; every OpenSSH since 6.2 has AES-GCM.
function algorithms(): ServerConfig['algorithms'] {
  const aes = ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com'] as const;
  return { cipher: ssh2Crypto.bindingAvailable ? ['chacha20-poly1305@openssh.com', ...aes] : [...aes] } as ServerConfig['algorithms'];
}

/**
 * Gathers the writes of one tick into one writev: a packet's pieces, and the packets made from
 * one chunk of a session's output, leave in one send instead of three per packet.
 */
function coalesceWrites(conn: Connection): void {
  const sock = socketOf(conn);
  if (!sock) return;
  const write = sock.write;
  let corked = false;
  sock.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    if (!corked) {
      corked = true;
      sock.cork();
      process.nextTick(() => {
        corked = false;
        sock.uncork();
      });
    }
    return write.apply(this, args);
  } as Socket['write'];
}

/** ssh2's Connection keeps its socket to itself (ssh2 1.x internals). */
function socketOf(conn: Connection): Socket | undefined {
  return (conn as unknown as { _sock?: Socket })._sock;
}

/** end() alone waits for the peer's FIN, which a vanished client never sends. */
function destroySocket(conn: Connection): void {
  socketOf(conn)?.destroy();
}

export async function startJobSshServer(opts: JobSshServerOptions): Promise<JobSshServer> {
  poolPacketPadding();
  const log = opts.log ?? (() => {});
  const tracker = new ActivityTracker(opts.onActivity);
  let keys: AuthorizedKey[] = [];
  const setKeys = (lines: string[]) => {
    const parsed = parseAuthorizedKeys(lines);
    for (const e of parsed.errors) log(`ssh: ${e}`);
    keys = parsed.keys;
  };
  setKeys(opts.authorizedKeys);
  const connections = new Set<Connection>();
  const limits = sshServerLimits(opts.limits);
  const drops = new DropLog(log);
  // ssh2's own listener is never used: ours applies the limits at accept and hands sockets on.
  const listener = guardedListener(limits, drops, (socket) => server.injectSocket(socket));
  const tcp = listener.server;

  const server = new ssh2.Server(
    {
      hostKeys: [opts.hostKeyPem],
      ident: 'dstack',
      algorithms: algorithms(),
      keepaliveInterval: opts.keepaliveIntervalMs ?? 15_000,
      keepaliveCountMax: opts.keepaliveCountMax ?? 3,
    } as ServerConfig,
    (conn, info) => {
      connections.add(conn);
      const tries = new AuthTries(limits.maxAuthTries);
      // ssh2's pure-JS ciphers write each packet in several pieces (length, body, tag): with Nagle
      // on, the small ones wait for the peer's delayed ACK and bulk transfers stall (sshd, too,
      // turns Nagle off).
      socketOf(conn)?.setNoDelay(true);
      coalesceWrites(conn);
      const onClose: Array<() => void> = [];
      let user = '';
      conn.on('authentication', (ctx) => {
        // Before deciding: ssh2 emits 'ready' from inside accept().
        user = ctx.username;
        const verdict = judgeAuth(ctx, keys);
        if (tries.record(ctx.method, verdict === 'reject')) {
          drops.drop('max_auth_tries', `ssh: ${user}@${info.ip}: ${describeDrop('max_auth_tries', limits)}`);
          // As sshd: a disconnect instead of the last failure. The grace timer still runs, for a
          // client that never closes its end.
          conn.end();
          return;
        }
        answerAuth(ctx, verdict);
      });
      conn.on('ready', () => {
        listener.loggedIn(socketOf(conn));
        log(`ssh: ${user}@${info.ip} connected`);
        // A connection that stays up counts by itself (an ssh -N tunnel); a probe never does.
        const grace = setTimeout(() => onClose.push(tracker.begin('connection')), opts.connectionGraceMs ?? CONNECTION_GRACE_MS);
        onClose.push(() => clearTimeout(grace));
        const local = socketOf(conn);
        const here = `${local?.localAddress ?? listenHost} ${local?.localPort ?? port}`;
        const ctx = {
          conn,
          target: opts.target,
          connectionEnv: {
            SSH_CONNECTION: `${info.ip} ${info.port} ${here}`,
            SSH_CLIENT: `${info.ip} ${info.port} ${local?.localPort ?? port}`,
          },
          begin: (kind: Parameters<ActivityTracker['begin']>[0]) => tracker.begin(kind),
          onConnectionClose: (fn: () => void) => onClose.push(fn),
          log,
        };
        let sessions = 0;
        conn.on('session', (accept, reject) => {
          if (sessions >= limits.maxSessions) {
            drops.drop('max_sessions', `ssh: ${user}@${info.ip}: ${describeDrop('max_sessions', limits)}`);
            reject();
            return;
          }
          sessions++;
          handleSession(() => {
            const session = accept();
            session.once('close', () => sessions--);
            return session;
          }, ctx);
        });
        conn.on('tcpip', (accept, reject, req) =>
          forwardTcp(accept, reject, req, () => tracker.begin('portForward'), ctx.onConnectionClose),
        );
        conn.on('openssh.streamlocal', (accept, reject, req) =>
          forwardUnix(accept, reject, req, opts.target, () => tracker.begin('portForward'), ctx.onConnectionClose),
        );
        // Remote forwarding (ssh -R): listeners opened as the session's user, closed with the connection.
        const reverse = new ReverseForwards({ conn, target: opts.target, begin: () => tracker.begin('portForward'), log });
        ctx.onConnectionClose(() => reverse.closeAll());
        conn.on('request', (accept, reject, name, info) =>
          name === 'tcpip-forward' || name === 'cancel-tcpip-forward'
            ? reverse.request(accept, reject, name, info as { bindAddr: string; bindPort: number })
            : reject?.(),
        );
      });
      conn.on('error', (err: Error & { level?: string }) => {
        log(`ssh: ${info.ip}: ${err.message}`);
        // A vanished client never sends its FIN: ending politely would leave the socket half-open.
        if (err.level === 'client-timeout') destroySocket(conn);
      });
      conn.on('close', () => {
        connections.delete(conn);
        for (const fn of onClose.splice(0)) fn();
      });
    },
  );

  const listenHost = opts.listenHost ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(opts.port ?? 0, listenHost, () => resolve());
  });
  tcp.on('error', (err: Error) => log(`ssh: ${err.message}`));
  const port = (tcp.address() as AddressInfo).port;

  return {
    port,
    hostPublicKey: publicKeyLine(opts.hostKeyPem),
    updateAuthorizedKeys: setKeys,
    activity: () => tracker.snapshot(),
    close: () =>
      new Promise<void>((resolve) => {
        tcp.close(() => resolve());
        for (const c of connections) {
          c.end();
          destroySocket(c);
        }
        listener.destroyAll();
        drops.close();
      }),
  };
}
