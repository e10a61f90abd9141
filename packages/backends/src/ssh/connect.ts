// One SSH connection attempt: to the host directly, or to a jump host, a forwarded TCP channel from
// there, and the host's SSH session inside that channel. Both hops check host keys against the store
// and send keepalives. The whole attempt has one deadline, so an unreachable host (packets dropped,
// the jump host's sshd stuck dialing) fails within connectTimeoutMs instead of TCP's minutes.
import type { Duplex } from 'node:stream';
import { Client } from 'ssh2';
import { SshAuthError, SshError, SshHostKeyChangedError, SshUnreachableError } from './errors';
import { keyTypeOf, knownHostName, type HostKeyStore, type HostKeyVerdict } from './known-hosts';

export interface Endpoint {
  hostname: string;
  port: number;
  user: string;
}

export interface Keepalive {
  intervalMs: number;
  /** Unanswered keepalives before the connection counts as dead. */
  countMax: number;
}

export interface Hop {
  endpoint: Endpoint;
  /** The private key's bytes (see identity.ts). */
  key: Buffer;
  identityFile: string;
}

export interface AttemptOptions {
  target: Hop;
  jump?: Hop;
  knownHosts: HostKeyStore;
  keepalive: Keepalive;
  timeoutMs: number;
  /** "ssh root@10.0.0.2:22 via root@10.0.0.1:22", the prefix of every error. */
  description: string;
}

export interface Connected {
  target: Client;
  jump?: Client;
}

export function endpointLabel(e: Endpoint): string {
  const host = e.hostname.includes(':') ? `[${e.hostname}]` : e.hostname;
  return `${e.user}@${host}:${e.port}`;
}

// ssh2's defaults, in its order; a host's recorded key types move to the front (as OpenSSH does), so
// the host presents the key we can check rather than one we have never seen.
const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

function hostKeyAlgorithms(knownTypes: string[]): string[] {
  const first = knownTypes.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]));
  const preferred = first.filter((a) => HOST_KEY_ALGORITHMS.includes(a));
  return [...preferred, ...HOST_KEY_ALGORITHMS.filter((a) => !preferred.includes(a))];
}

/** The error a failed hop stands for, named for what the user must fix. */
function classify(
  err: Error & { level?: string },
  hop: Hop,
  role: string,
  description: string,
  verdict: HostKeyVerdict | undefined,
  storeError: unknown,
): SshError {
  const label = `${role} ${endpointLabel(hop.endpoint)}`;
  if (storeError) {
    const why = storeError instanceof Error ? storeError.message : String(storeError);
    return new SshError('known-hosts', description, `cannot check the host key of ${label}: ${why}`, { cause: storeError });
  }
  if (verdict?.status === 'changed') {
    const name = knownHostName(hop.endpoint.hostname, hop.endpoint.port);
    return new SshHostKeyChangedError(
      description,
      `the host key of ${label} changed (recorded at ${verdict.file}:${verdict.line}); someone may be intercepting the connection. ` +
        `If the host was reinstalled, remove that line (ssh-keygen -R '${name}' -f ${verdict.file}) and connect again`,
      verdict.file,
      verdict.line,
    );
  }
  if (err.level === 'client-authentication') {
    return new SshAuthError(
      description,
      `${label} refused the key ${hop.identityFile} for user ${hop.endpoint.user} (add its public half to ~${hop.endpoint.user}/.ssh/authorized_keys there)`,
      { cause: err },
    );
  }
  const code = (err as NodeJS.ErrnoException).code;
  return new SshUnreachableError(description, `${label} unreachable: ${code ? `${code} (${err.message})` : err.message}`, { cause: err });
}

/** Starts the SSH handshake of one hop; `ready` settles when it is authenticated or has failed. */
function startHop(hop: Hop, role: string, opts: AttemptOptions, knownTypes: string[], sock?: Duplex): { client: Client; ready: Promise<void> } {
  const client = new Client();
  let verdict: HostKeyVerdict | undefined;
  let storeError: unknown;
  const ready = new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.on('error', (err) => reject(classify(err, hop, role, opts.description, verdict, storeError)));
    client.once('close', () => reject(new SshUnreachableError(opts.description, `${role} ${endpointLabel(hop.endpoint)} closed the connection during the handshake`)));
  });
  client.connect({
    host: hop.endpoint.hostname,
    port: hop.endpoint.port,
    username: hop.endpoint.user,
    privateKey: hop.key,
    sock,
    readyTimeout: 0, // the attempt's own deadline covers every hop
    keepaliveInterval: opts.keepalive.intervalMs,
    keepaliveCountMax: opts.keepalive.countMax,
    algorithms: { serverHostKey: hostKeyAlgorithms(knownTypes) as never },
    hostVerifier: (blob: Buffer, verify: (ok: boolean) => void) => {
      let type: string;
      try {
        type = keyTypeOf(blob);
      } catch (err) {
        storeError = err;
        return verify(false);
      }
      opts.knownHosts.verify(hop.endpoint.hostname, hop.endpoint.port, { type, data: blob }).then(
        (v) => {
          verdict = v;
          verify(v.status !== 'changed');
        },
        (err) => {
          storeError = err;
          verify(false);
        },
      );
    },
  });
  // Commands are small request/answer exchanges: without this, Nagle's algorithm meets the host's
  // delayed ACKs and every round trip waits ~40 ms. (A no-op on a forwarded channel.)
  client.setNoDelay(true);
  return { client, ready };
}

/**
 * OpenSSH's sshd turns on TCP_NODELAY for a connection only when its first session starts. Until then
 * each reply written in pieces (an HTTP/2 response: headers, data, trailers) waits for our delayed ACK,
 * ~40 ms a round trip on forwarded sockets. So every hop runs one empty session first. Bounded and
 * best-effort: a host that forbids sessions (a bastion with ForceCommand) still works, only slower.
 */
function primeNoDelay(client: Client): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, 2000);
    function done() {
      clearTimeout(timer);
      resolve();
    }
    client.exec('true', (err, stream) => {
      if (err) return done();
      stream.on('close', done).resume();
      stream.stderr.resume();
      setTimeout(() => stream.close(), 2000).unref();
    });
  });
}

function forwardTo(jump: Client, target: Endpoint, jumpHop: Hop, description: string): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    jump.forwardOut('127.0.0.1', 0, target.hostname, target.port, (err, stream) => {
      if (err) {
        reject(new SshUnreachableError(description, `${endpointLabel(target)} unreachable from jump host ${endpointLabel(jumpHop.endpoint)}: ${err.message}`, { cause: err }));
      } else resolve(stream);
    });
  });
}

/** Connects (through the jump host when given) within opts.timeoutMs, or throws a classified SshError. */
export async function connectAttempt(opts: AttemptOptions): Promise<Connected> {
  const clients: Client[] = [];
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const where = opts.jump ? ` (through jump host ${endpointLabel(opts.jump.endpoint)})` : '';
      reject(new SshUnreachableError(opts.description, `no SSH connection to ${endpointLabel(opts.target.endpoint)}${where} within ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
  });
  const attempt = async (): Promise<Connected> => {
    let sock: Duplex | undefined;
    let jump: Client | undefined;
    if (opts.jump) {
      const types = await opts.knownHosts.knownTypes(opts.jump.endpoint.hostname, opts.jump.endpoint.port);
      const hop = startHop(opts.jump, 'jump host', opts, types);
      jump = hop.client;
      clients.push(jump);
      await hop.ready;
      await primeNoDelay(jump);
      sock = await forwardTo(jump, opts.target.endpoint, opts.jump, opts.description);
    }
    const types = await opts.knownHosts.knownTypes(opts.target.endpoint.hostname, opts.target.endpoint.port);
    const hop = startHop(opts.target, 'host', opts, types, sock);
    clients.push(hop.client);
    await hop.ready;
    await primeNoDelay(hop.client);
    return { target: hop.client, jump };
  };
  try {
    return await Promise.race([attempt(), deadline]);
  } catch (err) {
    for (const c of clients) c.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
