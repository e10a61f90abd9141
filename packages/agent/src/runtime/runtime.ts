// Where a job runs: in a Docker container (docker.ts) or on the host as processes (host.ts). The job
// (job/job.ts) drives either through this one interface; the SSH server reaches the job through the
// SessionTarget a runtime hands out.
import type { JobSpec, PullProgress, RegistryAuth } from '@dstack/core/gen/agent';
import { shellWord } from '@dstack/core/quoting';
import type { SessionTarget, TargetUser } from '../ssh-server/target';
import type { PreparedMount } from './instance-mounts';

export type RuntimeKind = 'docker' | 'host';
export type OutputStream = 'stdout' | 'stderr';

/** What a runtime keeps about a job across agent restarts (saved in job.json). */
export interface RuntimeState {
  containerId?: string;
  /** host: the job's leader process and its start time (clock ticks since boot, from /proc). */
  pid?: number;
  pidStart?: number;
  /** docker: the instance volumes' folders as made before the container (instance-mounts.ts). */
  mounts?: PreparedMount[];
}

export interface RuntimeJob {
  readonly id: string;
  readonly spec: JobSpec;
  /** The job's env: spec env plus DSTACK_* (and, on the host, the marker DSTACK_JOB_ID). */
  readonly env: Record<string, string>;
  /** The code on the agent's host (bind-mounted at /workflow in a container). */
  readonly codeDir: string;
  /** Where the job works, as the job sees it. */
  readonly workingDir: string;
  readonly state: RuntimeState;
  /** Saves `state` (call after changing it, before relying on it). */
  persist(): void;
  /** A line for the job's log from the agent itself. */
  note(message: string): void;
}

export class JobError extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly exitCode = 0,
  ) {
    super(message);
    this.name = 'JobError';
  }
}

export interface ExecOptions {
  /** Bytes for the command's stdin (else it reads EOF). */
  input?: Buffer | string;
  /** A stream for the command's stdin (the IDE server tarball). */
  stdin?: NodeJS.ReadableStream;
  signal?: AbortSignal;
  /** Run as this user instead of the job's (docker's User form; "0" for root). */
  user?: string;
  /** The shell that runs the command (`SHELL -c command`); default /bin/sh. */
  shell?: string;
}

/** The configuration's `shell` (sh, bash, or an absolute path) as a path; "" means /bin/sh. */
export function shellPath(shell: string): string {
  if (!shell) return '/bin/sh';
  return shell.startsWith('/') ? shell : `/bin/${shell}`;
}

export interface Runtime {
  readonly kind: RuntimeKind;
  /**
   * Makes the image available (docker: pull, progress reported). `auth` is the registry login with
   * its password, which the job's spec (saved, and returned to callers) does not hold.
   */
  prepare(job: RuntimeJob, auth: RegistryAuth | undefined, onProgress: (p: PullProgress) => void, signal: AbortSignal): Promise<void>;
  /**
   * Creates and starts the job's main process (a keep-alive that exits on SIGTERM); idempotent.
   * With `signal` aborted (a stop came in meanwhile) what is created is saved but not started.
   */
  start(job: RuntimeJob, signal?: AbortSignal): Promise<void>;
  /** Is the job's container there, running or not (a kept one)? */
  exists?(job: RuntimeJob): Promise<boolean>;
  /** Is the main process still there (after an agent restart)? */
  alive(job: RuntimeJob): Promise<boolean>;
  /** Resolves with the main process's exit code when it exits. */
  waitExit(job: RuntimeJob): Promise<number>;
  /** Runs `sh -c command` in the working dir with the job's env; output streamed; exit code back. */
  exec(job: RuntimeJob, command: string, onOutput: (stream: OutputStream, data: Buffer) => void, opts?: ExecOptions): Promise<number>;
  /** Makes the job's env the default of every shell in the target (profile files). */
  installProfile(job: RuntimeJob): Promise<void>;
  /**
   * SIGTERM then SIGKILL after graceSeconds (0: SIGKILL at once); then frees what start() made.
   * `keep`: the container is stopped but not removed (its filesystem stays for a resume); a runtime
   * that cannot keep anything ignores it.
   */
  stop(job: RuntimeJob, graceSeconds: number, opts?: { keep?: boolean }): Promise<void>;
  /** The size of what a kept job holds (a container's own layer), in bytes; undefined: unknown or nothing kept. */
  keptSize?(job: RuntimeJob): Promise<number | undefined>;
  /** Where the job's SSH sessions land. */
  target(job: RuntimeJob): SessionTarget;
  /**
   * Who should own the job's code files: the container's user when the job names one; undefined
   * when the agent's own user is right (root in a container, the host runtime).
   */
  codeOwner(job: RuntimeJob): Promise<{ uid: number; gid: number } | undefined>;
  /**
   * The target's filesystem as the agent reaches it (a container's /proc/<pid>/root, the host's /),
   * the user the job's processes run as there, and where /workflow is in it (job/files.ts).
   */
  fsRoot(job: RuntimeJob): Promise<{ root: string; user: TargetUser; workflow: string }>;
}

/**
 * The job's main process, in a container (PID 1) and on the host alike: sleeps until SIGTERM, then
 * exits 0. Needs nothing but /bin/sh (busybox is enough).
 */
export const KEEPALIVE = 'trap "kill $! 2>/dev/null; exit 0" TERM INT; while :; do sleep 3600 & wait $!; done';

/** The job's env without its secret values: for what others can read (a container's config, files). */
export function publicEnv(job: Pick<RuntimeJob, 'spec' | 'env'>): Record<string, string> {
  return Object.fromEntries(Object.entries(job.env).filter(([k]) => !(k in job.spec.secretEnv)));
}

/** `export K=v` lines for a profile (v quoted for sh); keys that are not shell identifiers are skipped. */
export function profileScript(env: Record<string, string>): string {
  const lines = ["# Written by dstack-agent: the job's env for every shell."];
  for (const [k, v] of Object.entries(env)) if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) lines.push(`export ${k}=${shellWord(v)}`);
  return `${lines.join('\n')}\n`;
}
