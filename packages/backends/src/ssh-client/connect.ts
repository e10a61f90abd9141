// One SSH connection attempt: to the host directly, or to a jump host, a forwarded TCP channel from
// there, and the host's SSH session inside that channel. Both hops check host keys against the store
// (and the hop's pin or accepted keys) and send keepalives. The whole attempt has one deadline, so an
// unreachable host (packets dropped, the jump host's sshd stuck dialing) fails within connectTimeoutMs
// instead of TCP's minutes. A scan is an attempt that stops at the host's key: nothing is sent to a
// host whose key nobody has accepted, not even a user name to log in with.
import type { Duplex } from 'node:stream';
import { Client } from 'ssh2';
import {
  SshAuthError,
  SshError,
  SshHostKeyChangedError,
  SshHostKeyMismatchError,
  SshHostKeyUnknownError,
  SshUnreachableError,
} from './errors';
import {
  describeKey,
  fingerprint,
  hostKeyText,
  keyTypeOf,
  knownHostName,
  type HopTrust,
  type HostKey,
  type HostKeyStore,
  type HostKeyVerdict,
} from './known-hosts';

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
  /** The hop's pinned key, or keys the user accepted for it. */
  trust?: HopTrust;
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

/** Why a host key was refused, in words that say what to do; undefined when it was not. */
function hostKeyError(verdict: HostKeyVerdict, key: HostKey, hop: Hop, label: string, description: string): SshError | undefined {
  const shown = describeKey(key);
  switch (verdict.status) {
    case 'match':
    case 'recorded':
      return undefined;
    case 'unknown':
      return new SshHostKeyUnknownError(
        description,
        `the authenticity of ${label} can't be established: it presents ${shown}, which no known_hosts file has and nobody accepted. ` +
          'Apply the fleet (`dstack apply -f FILE`) to be asked about it, or pin it with `host_key:` in the fleet file',
        hostKeyText(key),
        fingerprint(key),
      );
    case 'changed': {
      const name = knownHostName(hop.endpoint.hostname, hop.endpoint.port);
      return new SshHostKeyChangedError(
        description,
        `REMOTE HOST IDENTIFICATION HAS CHANGED for ${label}: it presents ${shown}, but ${verdict.file}:${verdict.line} has ${describeKey(verdict.known)} for it; ` +
          `someone may be intercepting the connection. If the host was reinstalled, remove that line (ssh-keygen -R '${name}' -f ${verdict.file}) and apply again`,
        verdict.file,
        verdict.line,
      );
    }
    case 'pin-mismatch':
      return new SshHostKeyMismatchError(
        description,
        `the host key of ${label} is not its host_key: the fleet file pins ${describeKey(verdict.pinned)}, the host presents ${shown}; ` +
          'someone may be intercepting the connection, or the pin is out of date',
      );
    case 'revoked':
      return new SshError(
        'host-key-revoked',
        description,
        `the host key of ${label} (${shown}) is marked @revoked at ${verdict.file}:${verdict.line}`,
      );
  }
}

/** The error a failed hop stands for, named for what the user must fix. */
function classify(
  err: Error & { level?: string },
  hop: Hop,
  role: string,
  description: string,
  refused: SshError | undefined,
  storeError: unknown,
): SshError {
  const label = `${role} ${endpointLabel(hop.endpoint)}`;
  if (storeError) {
    const why = storeError instanceof Error ? storeError.message : String(storeError);
    return new SshError('known-hosts', description, `cannot check the host key of ${label}: ${why}`, { cause: storeError });
  }
  if (refused) return refused;
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
function startHop(
  hop: Hop,
  role: string,
  opts: AttemptOptions,
  knownTypes: string[],
  sock?: Duplex,
): { client: Client; ready: Promise<void> } {
  const client = new Client();
  let refused: SshError | undefined;
  let storeError: unknown;
  const ready = new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.on('error', (err) => reject(classify(err, hop, role, opts.description, refused, storeError)));
    client.once('close', () =>
      reject(
        new SshUnreachableError(opts.description, `${role} ${endpointLabel(hop.endpoint)} closed the connection during the handshake`),
      ),
    );
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
      const key = { type, data: blob };
      opts.knownHosts.verify(hop.endpoint.hostname, hop.endpoint.port, key, hop.trust).then(
        (v) => {
          refused = hostKeyError(v, key, hop, `${role} ${endpointLabel(hop.endpoint)}`, opts.description);
          verify(!refused);
        },
        (err) => {
          storeError = err;
          verify(false);
        },
      );
    },
  });
  // Commands are small request/answer exchanges: without this, Nagle's algorithm meets the host's
  // delayed ACKs and every round trip waits out the delayed-ACK timer. (A no-op on a forwarded channel.)
  client.setNoDelay(true);
  return { client, ready };
}

/**
 * OpenSSH's sshd turns on TCP_NODELAY for a connection only when its first session starts. Until then
 * each reply written in pieces (an HTTP/2 response: headers, data, trailers) waits for our delayed ACK
 * on every round trip on forwarded sockets. So every hop runs one empty session first. Bounded and
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
        reject(
          new SshUnreachableError(
            description,
            `${endpointLabel(target)} unreachable from jump host ${endpointLabel(jumpHop.endpoint)}: ${err.message}`,
            { cause: err },
          ),
        );
      } else resolve(stream);
    });
  });
}

/** The SSH attempt within opts.timeoutMs (its clients destroyed on failure, or always with `closeAll`). */
async function bounded<T>(
  opts: Omit<AttemptOptions, 'target'> & { target: Endpoint },
  run: (clients: Client[]) => Promise<T>,
  closeAll = false,
): Promise<T> {
  const clients: Client[] = [];
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const where = opts.jump ? ` (through jump host ${endpointLabel(opts.jump.endpoint)})` : '';
      reject(
        new SshUnreachableError(opts.description, `no SSH connection to ${endpointLabel(opts.target)}${where} within ${opts.timeoutMs} ms`),
      );
    }, opts.timeoutMs);
  });
  try {
    const result = await Promise.race([run(clients), deadline]);
    if (closeAll) for (const c of clients) c.destroy();
    return result;
  } catch (err) {
    for (const c of clients) c.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Logs in to the jump host (its key checked) and opens a channel from there to `target`. */
async function throughJump(
  opts: AttemptOptions,
  jumpHop: Hop,
  target: Endpoint,
  clients: Client[],
): Promise<{ jump: Client; sock: Duplex }> {
  const types = await opts.knownHosts.knownTypes(jumpHop.endpoint.hostname, jumpHop.endpoint.port, jumpHop.trust);
  const hop = startHop(jumpHop, 'jump host', opts, types);
  clients.push(hop.client);
  await hop.ready;
  await primeNoDelay(hop.client);
  return { jump: hop.client, sock: await forwardTo(hop.client, target, jumpHop, opts.description) };
}

/** Connects (through the jump host when given) within opts.timeoutMs, or throws a classified SshError. */
export function connectAttempt(opts: AttemptOptions): Promise<Connected> {
  return bounded({ ...opts, target: opts.target.endpoint }, async (clients) => {
    const via = opts.jump ? await throughJump(opts, opts.jump, opts.target.endpoint, clients) : undefined;
    const types = await opts.knownHosts.knownTypes(opts.target.endpoint.hostname, opts.target.endpoint.port, opts.target.trust);
    const hop = startHop(opts.target, 'host', opts, types, via?.sock);
    clients.push(hop.client);
    await hop.ready;
    await primeNoDelay(hop.client);
    return { target: hop.client, jump: via?.jump };
  });
}

export interface ScanOptions extends Omit<AttemptOptions, 'target'> {
  target: Endpoint;
}

/**
 * The host key `target` presents, read in the key exchange and the connection closed before any
 * authentication. A jump host is logged in to first, its own key checked as on every connect.
 */
export function scanHostKey(opts: ScanOptions): Promise<HostKey> {
  return bounded(
    opts,
    async (clients) => {
      const attempt: AttemptOptions = { ...opts, target: { endpoint: opts.target, key: Buffer.alloc(0), identityFile: '' } };
      const via = opts.jump ? await throughJump(attempt, opts.jump, opts.target, clients) : undefined;
      const client = new Client();
      clients.push(client);
      return new Promise<HostKey>((resolve, reject) => {
        let key: HostKey | undefined;
        const label = `host ${endpointLabel(opts.target)}`;
        client.on('error', (err: NodeJS.ErrnoException) => {
          if (key) return resolve(key);
          reject(
            new SshUnreachableError(opts.description, `${label} unreachable: ${err.code ? `${err.code} (${err.message})` : err.message}`, {
              cause: err,
            }),
          );
        });
        client.once('close', () =>
          key ? resolve(key) : reject(new SshUnreachableError(opts.description, `${label} closed the connection during the handshake`)),
        );
        client.connect({
          host: opts.target.hostname,
          port: opts.target.port,
          username: opts.target.user,
          sock: via?.sock,
          readyTimeout: 0,
          algorithms: { serverHostKey: HOST_KEY_ALGORITHMS as never },
          hostVerifier: (blob: Buffer, verify: (ok: boolean) => void) => {
            try {
              key = { type: keyTypeOf(blob), data: blob };
            } catch (err) {
              reject(
                new SshError(
                  'known-hosts',
                  opts.description,
                  `${label} presented a host key that cannot be read: ${(err as Error).message}`,
                ),
              );
            }
            verify(false);
          },
        });
      });
    },
    true,
  );
}
