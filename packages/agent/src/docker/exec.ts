// SSH sessions inside a job's container, through Docker exec over the Engine API: the exec's
// hijacked connection carries stdin and the output (raw with a TTY; stdout and stderr framed with
// 8-byte headers without one), resize goes to /exec/{id}/resize, and the exit code is read from
// /exec/{id}/json once the stream ends. Files (sftp, the agent socket) go through /proc/<pid>/root.
import { PassThrough, Writable, type Duplex } from 'node:stream';
import type { DockerEngine } from './engine';
import { statSync } from 'node:fs';
import { hostPath } from '../ssh/confine';
import { lookupUser } from '../ssh/target-user';
import type { PtyRequest, SessionExit, SessionProcess, SessionTarget, TargetUser } from '../ssh/target';
import { processStart } from '../runtime/host';

export interface DockerExecOptions {
  cmd: string[];
  env: Record<string, string>;
  pty?: PtyRequest;
  workingDir?: string;
  user?: string;
}

interface ExecInspect {
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

async function waitExit(engine: DockerEngine, id: string): Promise<SessionExit> {
  // The stream can end a moment before Docker records the exit.
  for (let i = 0; ; i++) {
    const info = await engine.json<ExecInspect>('GET', `/exec/${id}/json`);
    if (!info.Running || i >= 100) return { code: info.Running ? null : (info.ExitCode ?? null), signal: null };
    await sleep(Math.min(10 * (i + 1), 100));
  }
}

export async function dockerExec(engine: DockerEngine, containerId: string, o: DockerExecOptions): Promise<SessionProcess> {
  const tty = Boolean(o.pty);
  const { Id: id } = await engine.json<{ Id: string }>('POST', `/containers/${encodeURIComponent(containerId)}/exec`, {
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: tty,
    Env: Object.entries(o.env).map(([k, v]) => `${k}=${v}`),
    WorkingDir: o.workingDir ?? '',
    User: o.user ?? '',
    // Engine 20.10 (API 1.41) has no ConsoleSize and refuses a resize until the process runs, so a
    // fast first command could see a 0x0 terminal: the TTY gets its size from stty before the
    // command starts, and the resize call below only follows later changes.
    Cmd: o.pty ? ['/bin/sh', '-c', `stty cols ${o.pty.cols} rows ${o.pty.rows} 2>/dev/null; exec "$0" "$@"`, ...o.cmd] : o.cmd,
  });
  const sock: Duplex = await engine.hijack(`/exec/${id}/start`, { Detach: false, Tty: tty });

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
  void inspect().then((i) => (pid = i.Pid || undefined), () => {});

  return {
    stdin,
    stdout,
    stderr,
    resize: (cols, rows) => void resize(cols, rows),
    // Docker has no signal call for execs; its process is visible from the host (the agent's pid namespace).
    signal: (sig) => {
      if (pid) process.kill(pid, sig);
      else void inspect().then((i) => i.Pid && i.Running && process.kill(i.Pid, sig), () => {});
    },
    exit: streamDone.then(() => waitExit(engine, id)),
  };
}

export interface DockerSessionTargetOptions {
  engine: DockerEngine;
  containerId: string;
  workingDir: string;
  /** Docker's User form; empty: the image's user. */
  user?: string;
  /** The job's env (config env plus DSTACK_* variables). */
  env: Record<string, string>;
  /** The job's shell; else bash where the image has it, else /bin/sh. */
  shell?: string;
}

// Decided inside the container, where we can see whether bash exists.
const LOGIN_SHELL = 'if command -v bash >/dev/null 2>&1; then exec bash -l; else exec /bin/sh -l; fi';

export function dockerSessionTarget(o: DockerSessionTargetOptions): SessionTarget {
  // Per session only what can change: the container's PID 1 is asked of Docker once and checked
  // by its start time afterwards (a reused pid is another process), the user is looked up again
  // only when /etc/passwd or /etc/group changed.
  let main: { pid: number; start: number | undefined } | undefined;
  const fsRoot = async () => {
    if (main && processStart(main.pid) === main.start) return `/proc/${main.pid}/root`;
    const info = await o.engine.json<{ State: { Pid: number; Running: boolean } }>('GET', `/containers/${encodeURIComponent(o.containerId)}/json`);
    if (!info.State.Running || !info.State.Pid) throw new Error(`container ${o.containerId} is not running`);
    main = { pid: info.State.Pid, start: processStart(info.State.Pid) };
    return `/proc/${info.State.Pid}/root`;
  };
  let known: { key: string; user: TargetUser } | undefined;
  const user = async () => {
    const root = await fsRoot();
    const key = [root, ...['/etc/passwd', '/etc/group'].map((f) => {
      const st = statSync(hostPath(root, f), { throwIfNoEntry: false });
      return st ? `${st.ino}:${st.mtimeMs}:${st.size}` : '-';
    })].join(' ');
    if (known?.key !== key) known = { key, user: await lookupUser(root, o.user) };
    return known.user;
  };
  return {
    kind: 'docker',
    workingDir: o.workingDir,
    fsRoot,
    user,
    spawn: async (s) => {
      const u = await user();
      const shell = o.shell ?? '/bin/sh';
      const cmd = s.command !== undefined ? [shell, '-c', s.command] : o.shell ? [o.shell, '-l'] : ['/bin/sh', '-c', LOGIN_SHELL];
      const env = { HOME: u.home, USER: u.name, LOGNAME: u.name, ...o.env, ...s.env };
      return dockerExec(o.engine, o.containerId, { cmd, env, pty: s.pty, workingDir: o.workingDir, user: o.user });
    },
  };
}
