// SSH sessions inside a job's container, through Docker exec over the Engine API: the exec's
// hijacked connection carries stdin and the output (raw with a TTY; stdout and stderr framed with
// 8-byte headers without one), resize goes to /exec/{id}/resize, and the exit code is read from
// /exec/{id}/json once the stream ends. Sessions with a TTY use it; those without one use FIFOs
// (pipe-exec.ts) where they can. The session target built on both is in session-target.ts.
import { PassThrough, Writable, type Duplex } from 'node:stream';
import type { DockerEngine } from './engine';
import type { PtyRequest, SessionExit, SessionProcess } from '../ssh-server/target';

export interface DockerExecOptions {
  cmd: string[];
  env: Record<string, string>;
  pty?: PtyRequest;
  workingDir?: string;
  user?: string;
}

export interface ExecInspect {
  Running: boolean;
  ExitCode: number | null;
  Pid: number;
}

/** Splits Docker's multiplexed stream: [type, 0, 0, 0, size(4, BE)] then size bytes. */
export class Demuxer {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly out: (stream: 1 | 2, data: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 8) {
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      const type = this.buf[0];
      const data = this.buf.subarray(8, 8 + size);
      this.buf = this.buf.subarray(8 + size);
      if (size) this.out(type === 2 ? 2 : 1, data);
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The exec's exit code, once Docker has recorded it. */
export async function waitExit(engine: DockerEngine, id: string): Promise<SessionExit> {
  // The stream can end a moment before Docker records the exit.
  for (let i = 0; ; i++) {
    const info = await engine.json<ExecInspect>('GET', `/exec/${id}/json`);
    if (!info.Running || i >= 100) return { code: info.Running ? null : (info.ExitCode ?? null), signal: null };
    await sleep(Math.min(10 * (i + 1), 100));
  }
}

/** Creates an exec of `cmd` with o's env, working dir and user, and starts it attached. */
export async function startExec(
  engine: DockerEngine,
  containerId: string,
  o: Omit<DockerExecOptions, 'cmd' | 'pty'>,
  cmd: string[],
  io: { stdin: boolean; tty: boolean },
): Promise<{ id: string; stream: Duplex }> {
  const { Id: id } = await engine.json<{ Id: string }>('POST', `/containers/${encodeURIComponent(containerId)}/exec`, {
    AttachStdin: io.stdin,
    AttachStdout: true,
    AttachStderr: true,
    Tty: io.tty,
    Env: Object.entries(o.env).map(([k, v]) => `${k}=${v}`),
    WorkingDir: o.workingDir ?? '',
    User: o.user ?? '',
    Cmd: cmd,
  });
  return { id, stream: await engine.hijack(`/exec/${id}/start`, { Detach: false, Tty: io.tty }) };
}

export async function dockerExec(engine: DockerEngine, containerId: string, o: DockerExecOptions): Promise<SessionProcess> {
  const tty = Boolean(o.pty);
  // Engine 20.10 (API 1.41) has no ConsoleSize and refuses a resize until the process runs, so a
  // fast first command could see a 0x0 terminal: the TTY gets its size from stty before the
  // command starts, and the resize call below only follows later changes.
  const cmd = o.pty ? ['/bin/sh', '-c', `stty cols ${o.pty.cols} rows ${o.pty.rows} 2>/dev/null; exec "$0" "$@"`, ...o.cmd] : o.cmd;
  const { id, stream: sock } = await startExec(engine, containerId, o, cmd, { stdin: true, tty });

  const stdout = new PassThrough();
  const stderr = tty ? null : new PassThrough();
  if (tty) sock.pipe(stdout);
  else {
    const demux = new Demuxer((n, data) => (n === 2 ? stderr! : stdout).write(data));
    sock.on('data', (chunk: Buffer) => demux.push(chunk));
    sock.once('end', () => {
      stdout.end();
      stderr!.end();
    });
  }
  const streamDone = new Promise<void>((resolve) => {
    sock.once('close', resolve);
    sock.once('end', resolve);
    sock.once('error', resolve);
  });
  // Closing our write side is how Docker learns stdin reached EOF.
  const stdin = new Writable({
    write: (chunk, _enc, cb) => (sock.writable ? sock.write(chunk, cb) : cb()),
    final: (cb) => {
      if (sock.writable) sock.end();
      cb();
    },
  });

  let pid: number | undefined;
  const inspect = () => engine.json<ExecInspect>('GET', `/exec/${id}/json`);
  const resize = async (cols: number, rows: number) => {
    // Refused (409) until the process runs: retry with backoff, for up to ~5 s on a loaded host.
    for (let i = 0; i < 30; i++) {
      try {
        await engine.stream('POST', `/exec/${id}/resize?h=${rows}&w=${cols}`).then((r) => r.resume());
        return;
      } catch {
        await sleep(Math.min(25 * (i + 1), 250));
      }
    }
  };
  if (o.pty) void resize(o.pty.cols, o.pty.rows);
  void inspect().then(
    (i) => (pid = i.Pid || undefined),
    () => {},
  );

  return {
    stdin,
    stdout,
    stderr,
    resize: (cols, rows) => void resize(cols, rows),
    // Docker has no signal call for execs; its process is visible from the host (the agent's pid namespace).
    signal: (sig) => {
      if (pid) process.kill(pid, sig);
      else
        void inspect().then(
          (i) => i.Pid && i.Running && process.kill(i.Pid, sig),
          () => {},
        );
    },
    exit: streamDone.then(() => waitExit(engine, id)),
  };
}
