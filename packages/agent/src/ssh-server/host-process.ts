// Sessions on the host itself (host-mode jobs): child processes in their own process group, with
// a TTY through node-pty, or util-linux `script` where node-pty cannot load. The environment is
// built afresh as sshd does (the agent's own variables stay out), plus the job's env.
import { spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { PassThrough, Readable, Writable } from 'node:stream';
import { shellWord } from '@dstack/core/quoting';
import { loadPty } from './pty';
import { agentUser } from './target-user';
import type { PtyRequest, SessionExit, SessionProcess, SessionTarget, SpawnSessionOptions } from './target';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** What Slurm sets for the GPUs of an allocation (its gres/gpu plugin). */
const SLURM_GPU_VARS = ['CUDA_VISIBLE_DEVICES', 'ROCR_VISIBLE_DEVICES', 'GPU_DEVICE_ORDINAL', 'ZE_AFFINITY_MASK'];

export interface HostSessionTargetOptions {
  workingDir: string;
  /** The job's env (config env plus DSTACK_* variables). */
  env: Record<string, string>;
  /** The job's shell; else bash where present, else /bin/sh. */
  shell?: string;
}

function executable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function loginShell(shell?: string): string {
  if (shell) return shell;
  return ['/bin/bash', '/usr/bin/bash'].find(executable) ?? '/bin/sh';
}

function signalName(n: number | undefined | null): string | null {
  if (!n) return null;
  return Object.entries(osConstants.signals).find(([, v]) => v === n)?.[0] ?? null;
}

export function hostSessionTarget(opts: HostSessionTargetOptions): SessionTarget {
  const shell = loginShell(opts.shell);
  return {
    kind: 'host',
    workingDir: opts.workingDir,
    fsRoot: async () => '/',
    user: async () => agentUser(),
    spawn: async (s) => spawnHostSession({ ...s, shell, workingDir: opts.workingDir, jobEnv: opts.env }),
  };
}

export interface HostSpawnOptions extends SpawnSessionOptions {
  shell: string;
  workingDir: string;
  jobEnv: Record<string, string>;
}

/**
 * What every process of a host-mode job starts from, as sshd would give it: the agent's user
 * (HOME, USER, LOGNAME), the shell, PATH and the locale. Nothing else of the agent's environment.
 */
export function hostBaseEnv(shell: string): Record<string, string> {
  const me = agentUser();
  const base: Record<string, string> = {
    HOME: me.home,
    USER: me.name,
    LOGNAME: me.name,
    SHELL: shell,
    PATH: process.env.PATH || DEFAULT_PATH,
  };
  for (const k of ['LANG', 'LC_ALL', 'TZ']) if (process.env[k]) base[k] = process.env[k]!;
  // An agent started as a Slurm job's step (the slurm backend): the allocation's variables pass on,
  // as Slurm passes them to the job's own processes (the GPUs it gave the job, the job's id).
  if (process.env.SLURM_JOB_ID) {
    for (const [k, v] of Object.entries(process.env))
      if (v !== undefined && (k.startsWith('SLURM_') || SLURM_GPU_VARS.includes(k))) base[k] = v;
  }
  return base;
}

function sessionEnv(o: HostSpawnOptions): Record<string, string> {
  return { ...hostBaseEnv(o.shell), ...o.jobEnv, ...o.env };
}

/** argv for the session: a login shell, or `shell -c command`. */
function argv(o: HostSpawnOptions): string[] {
  return o.command === undefined ? [o.shell, '-l'] : [o.shell, '-c', o.command];
}

export async function spawnHostSession(o: HostSpawnOptions): Promise<SessionProcess> {
  const env = sessionEnv(o);
  if (!o.pty) return spawnPiped(argv(o), o.workingDir, env);
  const pty = loadPty();
  if (pty) return spawnPty(pty, argv(o), o.workingDir, env, o.pty);
  return spawnScript(argv(o), o.workingDir, env, o.pty);
}

/** A session over a piped child process; `signal` reaches what the session's signals should. */
export function pipedSession(child: ChildProcess, signal: (sig: NodeJS.Signals) => void): SessionProcess {
  const exit = new Promise<SessionExit>((resolve) => {
    child.once('error', () => resolve({ code: 127, signal: null }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return { stdin: child.stdin!, stdout: child.stdout!, stderr: child.stderr!, resize: () => {}, signal, exit };
}

function spawnPiped(args: string[], cwd: string, env: Record<string, string>): SessionProcess {
  const child = spawnChild(args[0], args.slice(1), { cwd, env, detached: true, stdio: 'pipe' });
  return pipedSession(child, (sig) => {
    // The whole process group, as a terminal hangup would reach it.
    try {
      if (child.pid) process.kill(-child.pid, sig);
    } catch {
      child.kill(sig);
    }
  });
}

function spawnPty(
  pty: NonNullable<ReturnType<typeof loadPty>>,
  args: string[],
  cwd: string,
  env: Record<string, string>,
  req: PtyRequest,
): SessionProcess {
  const term = pty.spawn(args[0], args.slice(1), { name: req.term, cols: req.cols, rows: req.rows, cwd, env, encoding: null });
  const stdout = new Readable({
    read: () => term.resume(),
  });
  term.onData((d: string | Buffer) => {
    if (!stdout.push(typeof d === 'string' ? Buffer.from(d) : d)) term.pause();
  });
  const stdin = new Writable({
    write: (chunk: Buffer, _enc, cb) => {
      term.write(chunk);
      cb();
    },
  });
  const exit = new Promise<SessionExit>((resolve) => {
    term.onExit(({ exitCode, signal }) => {
      stdout.push(null);
      const name = signalName(signal);
      resolve({ code: name ? null : exitCode, signal: name });
    });
  });
  return {
    stdin,
    stdout,
    stderr: null,
    resize: (cols, rows) => {
      try {
        term.resize(cols, rows);
      } catch {
        /* exited */
      }
    },
    signal: (sig) => {
      try {
        process.kill(-term.pid, sig);
      } catch {
        term.kill(sig);
      }
    },
    exit,
  };
}

// `script` gives the session a TTY without node-pty. Its size is set once from the request; later
// window changes are not passed on (script offers no way to).
function spawnScript(args: string[], cwd: string, env: Record<string, string>, req: PtyRequest): SessionProcess {
  const inner = `stty cols ${req.cols} rows ${req.rows} 2>/dev/null; exec ${args.map(shellWord).join(' ')}`;
  const p = spawnPiped(['script', '-qfec', inner, '/dev/null'], cwd, { ...env, TERM: req.term });
  // script's own complaints join the terminal's output, as they would on a real TTY.
  const merged = new PassThrough();
  let open = 2;
  for (const s of [p.stdout, p.stderr!]) {
    s.pipe(merged, { end: false });
    s.once('end', () => --open === 0 && merged.end());
  }
  return { ...p, stdout: merged, stderr: null };
}
