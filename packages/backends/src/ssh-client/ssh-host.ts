// HostConnection over SSH (ssh2), optionally through one jump host. The connection is made lazily and
// remade lazily: a call after the link dropped reconnects, and calls made meanwhile share that one
// attempt. Keepalives notice a dead link while idle. Errors name the host (see errors.ts).
import { EventEmitter } from 'node:events';
import { constants } from 'node:os';
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { Duplex, Readable } from 'node:stream';
import type { Client, ClientChannel } from 'ssh2';
import { shellWord } from '@dstack/core/quoting';
import type { ExecOptions, ExecResult, HostConnection } from '../host-connection';
import { connectAttempt, endpointLabel, type Connected, type Endpoint, type Hop, type Keepalive } from './connect';
import { SshError, SshUnreachableError } from './errors';
import { loadIdentity } from './identity';
import { hopTrust, type AcceptedHostKey, type HostKeyStore } from './known-hosts';

export interface SshJumpOptions {
  hostname: string;
  port?: number;
  user: string;
  identityFile: string;
  /** "ssh-ed25519 AAAA...": the only key the jump host may present. */
  hostKey?: string | null;
}

export interface SshHostOptions {
  hostname: string;
  port?: number;
  user: string;
  /** A private key without a passphrase; read once, on the first connect. */
  identityFile: string;
  proxyJump?: SshJumpOptions;
  knownHosts: HostKeyStore;
  /** "ssh-ed25519 AAAA...": the only key the host may present (the fleet file's host_key). */
  hostKey?: string | null;
  /** Keys the user accepted for the host or its jump host: recorded in the store when presented. */
  acceptedKeys?: AcceptedHostKey[];
  /** The most one connection attempt takes, jump host included (default 20 s). */
  connectTimeoutMs?: number;
  /** Default: every 10 s, dead after 3 unanswered. */
  keepalive?: Partial<Keepalive>;
}

export interface UploadOptions {
  /** The source is gzip data: it is decompressed on the host (`gzip -dc`), so big files travel small. */
  gunzip?: boolean;
}

// sshd allows 10 sessions per connection (MaxSessions); exec and upload each hold one while they run.
const MAX_SESSIONS = 8;

// Events: 'connect' after each successful (re)connect, 'disconnect' (reason?: Error) when it drops.
export interface SshHost {
  on(event: 'connect', listener: () => void): this;
  on(event: 'disconnect', listener: (reason?: Error) => void): this;
  once(event: 'connect', listener: () => void): this;
  once(event: 'disconnect', listener: (reason?: Error) => void): this;
}

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface above types this EventEmitter's events
export class SshHost extends EventEmitter implements HostConnection {
  readonly description: string;
  private connectCount = 0;
  private readonly target: Endpoint;
  private readonly jump?: Endpoint;
  private readonly keys = new Map<string, Buffer>();
  private live?: Connected;
  private connecting?: Promise<Connected>;
  private closed = false;
  /** Why the live connection went down (the first error it reported), for the calls it fails. */
  private dropReason?: Error;
  private sessions = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly opts: SshHostOptions) {
    super();
    this.target = { hostname: opts.hostname, port: opts.port ?? 22, user: opts.user };
    if (opts.proxyJump) this.jump = { ...opts.proxyJump, port: opts.proxyJump.port ?? 22 };
    this.description = `ssh ${endpointLabel(this.target)}${this.jump ? ` via ${endpointLabel(this.jump)}` : ''}`;
  }

  /** Successful connects so far (1 after the first, +1 per reconnect). */
  get connects(): number {
    return this.connectCount;
  }

  /** Whether a connection is up now (it is made on the first call, and again after a drop). */
  get connected(): boolean {
    return this.live !== undefined;
  }

  private key(file: string): Buffer {
    let key = this.keys.get(file);
    if (!key) {
      key = loadIdentity(file, this.description);
      this.keys.set(file, key);
    }
    return key;
  }

  /** The live connection, connecting first when there is none. */
  private async client(): Promise<Client> {
    if (this.closed) throw new SshError('closed', this.description, 'connection closed');
    if (this.live) return this.live.target;
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return (await this.connecting).target;
  }

  private async connect(): Promise<Connected> {
    const hop = (endpoint: Endpoint, identityFile: string, pin: string | null | undefined): Hop => ({
      endpoint,
      identityFile,
      key: this.key(identityFile),
      trust: hopTrust(endpoint.hostname, endpoint.port, pin, this.opts.acceptedKeys),
    });
    const conn = await connectAttempt({
      target: hop(this.target, this.opts.identityFile, this.opts.hostKey),
      jump: this.jump && hop(this.jump, this.opts.proxyJump!.identityFile, this.opts.proxyJump!.hostKey),
      knownHosts: this.opts.knownHosts,
      keepalive: { intervalMs: 10_000, countMax: 3, ...this.opts.keepalive },
      timeoutMs: this.opts.connectTimeoutMs ?? 20_000,
      description: this.description,
    });
    if (this.closed) {
      conn.target.end();
      conn.jump?.end();
      throw new SshError('closed', this.description, 'connection closed');
    }
    this.dropReason = undefined;
    const onError = (err: Error) => {
      this.dropReason ??= err;
    };
    const onClose = () => {
      if (this.live !== conn) return;
      this.live = undefined;
      conn.target.end();
      conn.jump?.end();
      this.emit('disconnect', this.dropReason);
    };
    for (const c of [conn.target, conn.jump]) c?.on('error', onError).on('close', onClose);
    this.live = conn;
    this.connectCount++;
    this.emit('connect');
    return conn;
  }

  /** Runs fn holding one of the connection's session slots (see MAX_SESSIONS). */
  private async withSession<T>(fn: (client: Client) => Promise<T>): Promise<T> {
    while (this.sessions >= MAX_SESSIONS) await new Promise<void>((r) => this.waiting.push(r));
    this.sessions++;
    try {
      return await fn(await this.client());
    } finally {
      this.sessions--;
      this.waiting.shift()?.();
    }
  }

  private lost(what: string, err?: Error): SshError {
    if (this.closed) return new SshError('closed', this.description, `connection closed during ${what}`);
    const why = this.dropReason ? `: ${this.dropReason.message}` : err?.message ? `: ${err.message}` : '';
    return new SshUnreachableError(this.description, `connection lost during ${what}${why}`, { cause: err });
  }

  /**
   * Starts a command; `done` settles with its result. Listeners go on in ssh2's callback itself: a
   * fast command's exit status can arrive in the same packet batch as the channel confirmation.
   */
  private async openExec(
    client: Client,
    command: string,
    what: string,
    setup?: (stream: ClientChannel) => void,
  ): Promise<{ stream: ClientChannel; done: Promise<ExecResult> }> {
    // sshd frees a session slot a moment after the channel closes, so a busy connection can hear
    // "no more sessions" (open failed, reason 2) for a while: wait and retry, briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        return await new Promise((resolve, reject) => {
          // The login shell may be anything (fish, csh); sh -c gives every command the same language.
          client.exec(`exec /bin/sh -c ${shellWord(command)}`, (err, stream) => {
            if (err) return reject(err);
            setup?.(stream);
            resolve({ stream, done: this.finish(stream, what) });
          });
        });
      } catch (err) {
        const refused = (err as { reason?: number }).reason === 2 && this.live?.target === client;
        if (!refused) throw this.lost('exec', err as Error);
        if (attempt >= 40)
          throw new SshError('remote', this.description, `the host refuses new sessions (sshd's MaxSessions?): ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 25 + attempt * 25));
      }
    }
  }

  /** Waits for a command channel to close; its exit code (128+n for signal n) and output. */
  private finish(stream: ClientChannel, what: string): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let code: number | undefined;
      stream.on('data', (d: Buffer) => out.push(d));
      stream.stderr.on('data', (d: Buffer) => err.push(d));
      stream.on('exit', (exitCode: number | null, signal?: string) => {
        const signum = signal ? constants.signals[`SIG${signal.replace(/^SIG/, '')}` as NodeJS.Signals] : undefined;
        code = exitCode ?? 128 + (signum ?? 0);
      });
      stream.on('close', () => {
        if (code === undefined) return reject(this.lost(what));
        resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
      });
    });
  }

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const what = `\`${command.length > 60 ? `${command.slice(0, 57)}...` : command}\``;
    if (opts.timeoutMs === undefined) {
      return this.withSession(async (client) => {
        const { stream, done } = await this.openExec(client, command, what);
        stream.end(opts.input);
        return done;
      });
    }
    return this.execWithTimeout(command, what, opts.timeoutMs, opts.input);
  }

  // A timeout ends the command with everything it started and answers exit code 124 (as `timeout(1)`
  // and LocalHost do). sshd's "signal" request is not honoured by every sshd (OpenSSH 9.2 ignores it)
  // and closing the channel leaves the command running, so the command first prints its pid (sshd made
  // it a session leader: its pid is the process group of all it starts) and a second session kills it.
  private execWithTimeout(command: string, what: string, timeoutMs: number, input?: string | Buffer): Promise<ExecResult> {
    return this.withSession(async (client) => {
      let header = '';
      const { stream, done } = await this.openExec(client, `echo "$$" >&2; exec /bin/sh -c ${shellWord(command)}`, what, (ch) => {
        const onHeader = (d: Buffer) => {
          header += d.toString('latin1');
          if (header.includes('\n')) ch.stderr.off('data', onHeader);
        };
        ch.stderr.on('data', onHeader);
      });
      stream.end(input);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        const pid = /^(\d+)\n/.exec(header)?.[1];
        // Outside the session limit: every slot may be held by commands waiting for their own kill.
        // No `--`: dash and busybox refuse it.
        if (pid)
          this.openExec(client, `kill -KILL -${pid}`, 'kill')
            .then(({ stream: s, done: d }) => (s.end(), d))
            .catch(() => undefined);
        else stream.close();
      }, timeoutMs);
      try {
        const res = await done;
        const stderr = res.stderr.slice(res.stderr.indexOf('\n') + 1);
        return timedOut ? { code: 124, stdout: res.stdout, stderr: `${stderr}timed out after ${timeoutMs} ms` } : { ...res, stderr };
      } finally {
        clearTimeout(timer);
      }
    });
  }

  /**
   * Streams `source` into a temp file next to `remotePath` (through `cat`, or `gzip -dc` with
   * gunzip), then sets the mode and renames it over the target: readers never see half a file, and a
   * failed source leaves nothing behind. Creates missing parent directories.
   */
  async upload(source: Readable, remotePath: string, mode = 0o644, opts: UploadOptions = {}): Promise<void> {
    const tmp = posix.join(posix.dirname(remotePath), `.${posix.basename(remotePath)}.tmp-${randomBytes(4).toString('hex')}`);
    const q = { dir: shellWord(posix.dirname(remotePath)), tmp: shellWord(tmp), target: shellWord(remotePath) };
    const writer = opts.gunzip ? 'gzip -dc' : 'cat';
    let sent = 0;
    let sourceError: Error | undefined;
    let abort = (err: Error) => {
      sourceError ??= err;
    };
    source.once('error', (err) => abort(err));
    const cleanup = () => this.exec(`rm -f ${q.tmp}`).catch(() => undefined);
    const written = await this.withSession(async (client) => {
      const { stream, done } = await this.openExec(
        client,
        `mkdir -p ${q.dir} && umask 077 && ${writer} > ${q.tmp}`,
        `upload to ${remotePath}`,
      );
      const sourceFailed = new Promise<never>((_, reject) => {
        abort = (err) => {
          stream.close();
          reject(err);
        };
        if (sourceError) abort(sourceError);
      });
      stream.on('error', () => undefined); // a write after the host closed the channel; `done` reports it
      source.on('data', (d: Buffer) => {
        sent += d.length;
      });
      source.pipe(stream);
      return Promise.race([done, sourceFailed]).finally(() => source.unpipe(stream));
    }).catch(async (err) => {
      source.destroy();
      await cleanup();
      throw err;
    });
    const failed = (why: string) => new SshError('remote', this.description, `upload to ${remotePath} failed: ${why}`);
    if (written.code !== 0) {
      source.destroy();
      await cleanup();
      throw failed(written.stderr.trim() || `exit ${written.code}`);
    }
    // A dropped channel makes `cat` see EOF and succeed: check the size before the file goes live.
    const sizeCheck = opts.gunzip ? '' : `test "$(wc -c < ${q.tmp})" -eq ${sent} && `;
    const commit = await this.exec(
      `${sizeCheck}chmod ${(mode & 0o7777).toString(8)} ${q.tmp} && mv -f ${q.tmp} ${q.target} || { rc=$?; rm -f ${q.tmp}; exit $rc; }`,
    );
    if (commit.code !== 0) throw failed(commit.stderr.trim() || 'the file arrived incomplete');
  }

  openUnixSocket(path: string): Promise<Duplex> {
    return this.client().then(
      (client) =>
        new Promise<Duplex>((resolve, reject) => {
          client.openssh_forwardOutStreamLocal(path, (err, stream) => {
            if (!err) return resolve(stream);
            if (!this.live || this.closed) return reject(this.lost(`open of unix socket ${path}`, err));
            reject(
              new SshError(
                'remote',
                this.description,
                `cannot open unix socket ${path} on the host (${err.message}): is anything listening there?`,
                { cause: err },
              ),
            );
          });
        }),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    const conn = this.live ?? (await this.connecting?.catch(() => undefined));
    this.live = undefined;
    if (!conn) return;
    const ends = [conn.target, conn.jump].map(
      (c) =>
        c &&
        new Promise<void>((resolve) => {
          // end() says goodbye; destroy() after a moment for a link that no longer answers.
          const timer = setTimeout(() => c.destroy(), 2000);
          c.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          c.end();
        }),
    );
    await Promise.all(ends);
  }
}
