// The host runtime: no container. The job is a leader process (the same keep-alive as in a
// container) in its own process group, its working dir under the agent's data dir; init commands and
// SSH sessions are processes on the host with the job's env. For machines without Docker and for
// container clouds where the instance *is* a container.
//
// Every process of the job carries DSTACK_JOB_ID in its environment (children inherit it), so a stop
// finds all of them, TTY sessions (own sessions) and processes left by an agent that was restarted
// included, by reading /proc/*/environ.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PullProgress } from '@dstack/core/gen/agent';
import type { SessionTarget, TargetUser } from '../ssh-server/target';
import { agentUser } from '../ssh-server/target-user';
import { hostBaseEnv, hostSessionTarget, loginShell } from '../ssh-server/host-process';
import { refuseMountsOnHost } from './instance-mounts';
import { KEEPALIVE, profileScript, publicEnv, type ExecOptions, type OutputStream, type Runtime, type RuntimeJob } from './runtime';

/** Field 22 of /proc/PID/stat: start time in clock ticks since boot (tells a reused pid apart). */
export function processStart(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return undefined;
  }
}

/** Pids whose environment holds DSTACK_JOB_ID=<jobId>. */
export function jobProcesses(jobId: string): number[] {
  const marker = Buffer.from(`\0DSTACK_JOB_ID=${jobId}\0`);
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const env = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${name}/environ`), Buffer.from([0])]);
      if (env.includes(marker)) pids.push(Number(name));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return pids;
}

function signalAll(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

/** The env of a host-mode job's processes: a minimal base (not the agent's env), the job's, the marker. */
export function hostProcessEnv(job: RuntimeJob): Record<string, string> {
  return { ...hostBaseEnv(loginShell(job.spec.shell || undefined)), ...job.env, DSTACK_JOB_ID: job.id };
}

export class HostRuntime implements Runtime {
  readonly kind = 'host' as const;
  private readonly leaders = new Map<string, ChildProcess>();

  constructor(
    /** The agent's data dir: no instance volume may reach it. */
    private readonly dataDir: string,
  ) {}

  // Nothing to pull on the host: no pull progress either (a "Pulling image" line would mislead).
  async prepare(job: RuntimeJob, _auth: unknown, _onProgress: (p: PullProgress) => void): Promise<void> {
    if (job.spec.image) job.note(`runtime host: the image ${job.spec.image} is not used`);
    // No container to mount instance volumes in: optional ones are left out, others fail the job.
    refuseMountsOnHost(job, this.dataDir);
  }

  async alive(job: RuntimeJob): Promise<boolean> {
    const { pid, pidStart } = job.state;
    return !!pid && processStart(pid) === pidStart;
  }

  async start(job: RuntimeJob): Promise<void> {
    if (await this.alive(job)) return;
    const child = spawn('/bin/sh', ['-c', KEEPALIVE], { cwd: job.workingDir, env: hostProcessEnv(job), detached: true, stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    child.unref();
    this.leaders.set(job.id, child);
    job.state.pid = child.pid;
    job.state.pidStart = processStart(child.pid!);
    job.persist();
    job.note(`job process ${child.pid} started in ${job.workingDir}`);
  }

  async waitExit(job: RuntimeJob): Promise<number> {
    const child = this.leaders.get(job.id);
    if (child && child.exitCode === null && child.signalCode === null) {
      return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15))));
    }
    // Not our child (the agent restarted): poll.
    while (await this.alive(job)) await new Promise((r) => setTimeout(r, 1000));
    return 0;
  }

  exec(job: RuntimeJob, command: string, onOutput: (s: OutputStream, d: Buffer) => void, opts: ExecOptions = {}): Promise<number> {
    return new Promise((resolve, reject) => {
      const child = spawn(opts.shell ?? '/bin/sh', ['-c', command], {
        cwd: job.workingDir,
        env: hostProcessEnv(job),
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      child.stdout!.on('data', (d: Buffer) => onOutput('stdout', d));
      child.stderr!.on('data', (d: Buffer) => onOutput('stderr', d));
      child.stdin!.on('error', () => {});
      if (opts.stdin) opts.stdin.pipe(child.stdin!);
      else child.stdin!.end(opts.input ?? '');
      const kill = () => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      };
      opts.signal?.addEventListener('abort', kill, { once: true });
      child.on('error', reject);
      child.on('close', (code, signal) => {
        opts.signal?.removeEventListener('abort', kill);
        resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15));
      });
    });
  }

  async installProfile(job: RuntimeJob): Promise<void> {
    // On the host the agent passes the env to every process itself; the file is for users who want
    // it in shells they start some other way. It lies in the agent's data dir, which never holds a
    // secret value: those are named only.
    const secret = Object.keys(job.spec.secretEnv);
    const note = secret.length ? `# Secret, not written here (every process of the job has them): ${secret.join(' ')}\n` : '';
    await writeFile(join(job.codeDir, '..', 'env.sh'), profileScript(publicEnv(job)) + note, { mode: 0o600 });
  }

  async stop(job: RuntimeJob, graceSeconds: number): Promise<void> {
    const leader = (await this.alive(job)) ? job.state.pid : undefined;
    const all = () => [...new Set([...jobProcesses(job.id), ...(leader && existsSync(`/proc/${leader}`) ? [leader] : [])])];
    if (graceSeconds > 0) {
      signalAll(all(), 'SIGTERM');
      const deadline = Date.now() + graceSeconds * 1000;
      while (Date.now() < deadline && all().length) await new Promise((r) => setTimeout(r, 200));
    }
    // Zombies keep their environ readable until reaped: only signal what is still there.
    for (let i = 0; i < 3 && all().length; i++) {
      signalAll(all(), 'SIGKILL');
      await new Promise((r) => setTimeout(r, 100));
    }
    this.leaders.delete(job.id);
    job.note('job processes stopped');
  }

  async codeOwner(): Promise<undefined> {
    return undefined;
  }

  async fsRoot(job: RuntimeJob): Promise<{ root: string; user: TargetUser; workflow: string }> {
    // The job's processes are the agent's user's, on the host's own filesystem.
    return { root: '/', user: agentUser(), workflow: job.codeDir };
  }

  target(job: RuntimeJob): SessionTarget {
    // Sessions are the SSH engineer's host sessions (node-pty, or `script` where it cannot load),
    // with the job's env and the marker that lets stop() find them.
    return hostSessionTarget({
      workingDir: job.workingDir,
      env: { ...job.env, DSTACK_JOB_ID: job.id },
      shell: job.spec.shell || undefined,
    });
  }
}
