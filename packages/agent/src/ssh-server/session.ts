// One SSH "session" channel: pty-req, env and auth-agent-req come first, then one of shell, exec
// or the sftp subsystem. Shells and commands run in the job's SessionTarget; sftp runs as the
// session's user too: the target's own sftp-server, else the agent's (sftp/spawn.ts), so the image
// needs nothing.
import type { Connection, ServerChannel, Session } from 'ssh2';
import type { Writable } from 'node:stream';
import type { ActivityKind } from './activity';
import { startAgentForward, type AgentForward } from './agent-forward';
import { spawnSftp } from '../sftp/spawn';
import type { PtyRequest, SessionExit, SessionProcess, SessionTarget } from './target';

export interface SessionContext {
  conn: Connection;
  target: SessionTarget;
  /** Marks activity open; returns its close. */
  begin(kind: ActivityKind): () => void;
  /** Set in every session, as sshd sets them (SSH_CONNECTION, SSH_CLIENT). */
  connectionEnv: Record<string, string>;
  /** Runs when the connection goes away, for sessions the client never closed. */
  onConnectionClose(fn: () => void): void;
  log(line: string): void;
}

// Names an SSH client may set: POSIX-ish, not the loader's knobs.
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const ENV_DENIED = new Set(['LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'SSH_AUTH_SOCK']);

/** How long a process may outlive its closed channel after SIGHUP before SIGKILL. */
const HANGUP_GRACE_MS = 5_000;

export function handleSession(accept: () => Session, ctx: SessionContext): void {
  const session = accept();
  let pty: PtyRequest | undefined;
  const env: Record<string, string> = {};
  let wantAgent = false;
  let proc: SessionProcess | undefined;
  let started = false;

  session.on('pty', (ok, _no, info) => {
    pty = { term: info.term || 'xterm', cols: info.cols || 80, rows: info.rows || 24 };
    ok?.();
  });
  session.on('window-change', (ok, _no, info) => {
    if (pty) pty = { ...pty, cols: info.cols, rows: info.rows };
    proc?.resize(info.cols, info.rows);
    ok?.();
  });
  session.on('env', (ok, no, info) => {
    if (ENV_NAME.test(info.key) && !ENV_DENIED.has(info.key) && !info.val.includes('\0')) {
      env[info.key] = info.val;
      ok?.();
    } else no?.();
  });
  session.on('auth-agent', (ok) => {
    wantAgent = true;
    ok?.();
  });
  session.on('signal', (ok, _no, info) => {
    const name = info.name.startsWith('SIG') ? info.name : `SIG${info.name}`;
    try {
      proc?.signal(name as NodeJS.Signals);
    } catch {
      /* unknown signal or the process is gone */
    }
    ok?.();
  });

  const run = (kind: ActivityKind, command: string | undefined, channel: ServerChannel | undefined) => {
    if (!channel || started) return;
    started = true;
    const end = ctx.begin(kind);
    const sftp = kind === 'sftp' ? (e: Record<string, string>) => spawnSftp(ctx.target, e, ctx.log) : undefined;
    void runProcess(
      channel,
      { command, pty: sftp ? undefined : pty, env, wantAgent: wantAgent && !sftp, spawn: sftp },
      ctx,
      (p) => (proc = p),
    ).finally(end);
  };
  session.on('shell', (ok) => run('shell', undefined, ok()));
  session.on('exec', (ok, _no, info) => run('exec', info.command, ok()));
  // Without an 'sftp' listener ssh2 hands the subsystem over as a plain channel, as sshd runs it.
  session.on('subsystem', (ok, no, info) => {
    if (info.name !== 'sftp' || started) return no?.();
    run('sftp', undefined, ok());
  });
}

interface RunOptions {
  command: string | undefined;
  pty: PtyRequest | undefined;
  env: Record<string, string>;
  wantAgent: boolean;
  /** Starts something other than the command in the target (the sftp subsystem). */
  spawn?: (env: Record<string, string>) => Promise<SessionProcess>;
}

/** Resolves when every byte the process wrote has been handed to the channel. */
function flushed(w: Writable): Promise<void> {
  if (!w.writable) return Promise.resolve();
  return new Promise((resolve) => w.write(Buffer.alloc(0), () => resolve()));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function ended(stream: NodeJS.ReadableStream | null): Promise<void> {
  if (!stream) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', resolve);
  });
}

async function runProcess(
  channel: ServerChannel,
  opts: RunOptions,
  ctx: SessionContext,
  onStart: (p: SessionProcess) => void,
): Promise<void> {
  let closed = false;
  const channelClosed = new Promise<void>((resolve) => {
    const done = () => {
      closed = true;
      resolve();
    };
    channel.once('close', done);
    ctx.onConnectionClose(done);
  });
  let agent: AgentForward | undefined;
  let proc: SessionProcess;
  try {
    const env = { ...ctx.connectionEnv, ...opts.env };
    if (opts.wantAgent) {
      agent = await startAgentForward(ctx.conn, ctx.target, ctx.log);
      env.SSH_AUTH_SOCK = agent.socketPath;
    }
    if (opts.pty) env.TERM = opts.pty.term;
    proc = opts.spawn ? await opts.spawn(env) : await ctx.target.spawn({ command: opts.command, pty: opts.pty, env });
  } catch (err) {
    ctx.log(`ssh session: cannot start ${opts.command === undefined ? 'a shell' : 'the command'}: ${(err as Error).message}`);
    await agent?.close();
    if (!closed) {
      channel.stderr.write(`dstack: cannot start the session: ${(err as Error).message}\r\n`);
      channel.exit(1);
      channel.end();
    }
    return;
  }
  onStart(proc);

  // A TTY has no half-close: EOF from the client leaves the shell running, as with sshd.
  channel.pipe(proc.stdin, { end: !opts.pty });
  proc.stdin.on('error', () => {});
  proc.stdout.pipe(channel, { end: false });
  proc.stderr?.pipe(channel.stderr, { end: false });
  const outputDone = Promise.all([ended(proc.stdout), ended(proc.stderr)]);

  let killTimer: NodeJS.Timeout | undefined;
  void channelClosed.then(() => {
    // The client went away first: hang up the process as a terminal would, then insist.
    void proc.exit.then(() => clearTimeout(killTimer));
    try {
      proc.signal('SIGHUP');
    } catch {
      /* already gone */
    }
    killTimer = setTimeout(() => {
      try {
        proc.signal('SIGKILL');
      } catch {
        /* already gone */
      }
    }, HANGUP_GRACE_MS);
    killTimer.unref();
  });

  const exit: SessionExit = await Promise.race([
    proc.exit.then(async (e) => {
      await outputDone;
      return e;
    }),
    // A process that ignores even SIGKILL's delivery (a wedged exec) must not keep the session open.
    channelClosed.then(() => Promise.race([proc.exit, sleep(2 * HANGUP_GRACE_MS).then(() => ({ code: null, signal: 'SIGKILL' }))])),
  ]);
  clearTimeout(killTimer);
  channel.unpipe(proc.stdin);
  channel.resume();
  await agent?.close();
  if (closed) return;
  await Promise.all([flushed(channel), flushed(channel.stderr)]);
  if (exit.signal) channel.exit(exit.signal.replace(/^SIG/, ''), false, '');
  else channel.exit(exit.code ?? 255);
  channel.end();
}
