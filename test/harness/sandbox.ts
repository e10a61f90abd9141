// A user of the built product for the end-to-end suites (the CLI's, the daemon's, and the suites
// built on them): a temp HOME and DSTACK_HOME, config.yml pointing the base image at the harness's
// image, and the cleanup that ends everything such a user's commands started: the daemon, the local
// agent with its jobs (containers, host processes), whatever was left of them, and the files. It
// also finds what a test run left behind (leftoversUnder), for the global teardown's check.
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials, Metadata } from '@grpc/grpc-js';
import { inject } from 'vitest';
import { AgentClient } from '@dstack/core/gen/agent';
import { DOCKER_HOST } from './docker';
import { mustRun, run, tempDir, waitFor, type RunResult } from './util';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** Fails the suite with what to run when a built part it drives is missing. */
export function requireBuilt(paths: string[], who: string): void {
  const missing = paths.filter((p) => !existsSync(join(ROOT, p)));
  if (missing.length) throw new Error(`the ${who} e2e suites run the built product; missing ${missing.join(', ')}: run \`npm run build\``);
}

export interface UserHome {
  /** The temp dir holding everything below. */
  dir: string;
  home: string;
  dstackHome: string;
  env: NodeJS.ProcessEnv;
  /** Ends what the user's commands started and removes the files (see endUserHome). */
  end(): Promise<void>;
}

export interface UserHomeOptions {
  /** DOCKER_HOST of the daemon and its agent: default the test engine; unix:///nonexistent for host mode. */
  dockerHost?: string;
  /** Extra lines for config.yml. */
  config?: string;
}

export function userHome(prefix: string, opts: UserHomeOptions = {}): UserHome {
  const tmp = tempDir(prefix);
  const home = join(tmp.path, 'home');
  const dstackHome = join(tmp.path, 'dh');
  for (const d of [home, dstackHome]) mkdirSync(d, { recursive: true, mode: 0o700 });
  writeFileSync(join(dstackHome, 'config.yml'), `base_image: ${inject('debianImage')}\n${opts.config ?? ''}`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    DSTACK_HOME: dstackHome,
    DOCKER_HOST: opts.dockerHost ?? inject('dockerHost'),
  };
  delete env.DSTACK_DEBUG;
  return {
    dir: tmp.path,
    home,
    dstackHome,
    env,
    async end() {
      await endUserHome(tmp.path, dstackHome);
      // A process still closing its files can race the removal once: try again.
      await waitFor('the sandbox to be removed', () => (tmp.cleanup(), true), { timeoutMs: 10_000, intervalMs: 500 });
    },
  };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function endPid(pid: number, what: string, timeoutMs = 20_000): Promise<void> {
  if (!pid || !alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  await waitFor(`${what} (pid ${pid}) to exit`, () => !alive(pid), { timeoutMs, intervalMs: 100 }).catch(() => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
}

function pidIn(file: string): number {
  try {
    return Number(readFileSync(file, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

/**
 * The local agent of a home outlives its daemon by design: Shutdown stops its jobs (containers,
 * host processes) and ends it; SIGKILL if it does not go.
 */
export async function stopLocalAgent(dstackHome: string): Promise<void> {
  const dataDir = join(dstackHome, 'local', 'agent');
  const sock = join(dataDir, 'agent.sock');
  // Its pid first: a shutting-down agent removes its pid file before its jobs are stopped.
  const pid = pidIn(join(dataDir, 'agent.pid'));
  if (existsSync(sock)) {
    const agent = new AgentClient(`unix://${sock}`, credentials.createInsecure());
    await new Promise<void>((r) => agent.shutdown({ removeData: false }, new Metadata(), { deadline: Date.now() + 30_000 }, () => r()));
    agent.close();
    // Shutdown answers at once and stops the jobs after: give it the time that takes.
    await waitFor('the local agent to stop its jobs and exit', () => !alive(pid), { timeoutMs: 60_000, intervalMs: 100 }).catch(() => {});
  }
  await endPid(pid, 'the local agent');
}

/**
 * Ends what a user's commands started, after the suite stopped its runs its own way: the daemon
 * (SIGTERM by its pid file), the local agent and its jobs, then anything of this home still there
 * (containers labelled with it, processes that name its dir).
 */
export async function endUserHome(dir: string, dstackHome: string): Promise<void> {
  await endPid(pidIn(join(dstackHome, 'daemon.pid')), 'the daemon');
  await stopLocalAgent(dstackHome);
  const left = await leftoversUnder(dir);
  for (const c of left.containers) await run('docker', ['-H', DOCKER_HOST, 'rm', '-f', c.id]);
  for (const p of left.processes) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  if (left.processes.length) {
    await waitFor('the processes of the sandbox to end', async () => (await leftoversUnder(dir)).processes.length === 0, {
      timeoutMs: 10_000,
    }).catch(() => {});
  }
}

export interface Leftovers {
  processes: { pid: number; what: string }[];
  containers: { id: string; what: string }[];
}

/**
 * Processes and containers that belong under `dir`: a process whose command line, working dir or
 * environment names a path in it (the daemon, an agent, a host-mode job), and a container of an
 * agent (label ai.dstack.job-id) whose DSTACK_HOME label or mounted code is in it.
 */
export async function leftoversUnder(dir: string): Promise<Leftovers> {
  const prefix = `${resolve(dir)}/`;
  const processes: Leftovers['processes'] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!pid || pid === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      let cwd = '';
      try {
        cwd = readlinkSync(`/proc/${name}/cwd`);
      } catch {
        /* not ours to read */
      }
      const environ = readFileSync(`/proc/${name}/environ`, 'utf8');
      if (cmdline.includes(prefix) || `${cwd}/`.startsWith(prefix) || environ.includes(`=${prefix}`)) {
        // A zombie has no command line: it is gone but for its parent's wait.
        if (cmdline) processes.push({ pid, what: cmdline.slice(0, 200) });
      }
    } catch {
      /* exited meanwhile */
    }
  }
  const containers: Leftovers['containers'] = [];
  const ids = (await run('docker', ['-H', DOCKER_HOST, 'ps', '-aq', '--no-trunc', '--filter', 'label=ai.dstack.job-id'])).stdout
    .split('\n')
    .filter(Boolean);
  if (ids.length) {
    // A container removed between `ps` and `inspect` (a parallel suite's cleanup) makes inspect exit 1
    // while it still prints the others: read what it printed, never drop them all.
    const res = await run('docker', ['-H', DOCKER_HOST, 'inspect', ...ids]);
    if (res.code !== 0 && !res.stdout.trim()) {
      throw new Error(`docker inspect of the test engine's containers failed (exit ${res.code}): ${res.stderr.trim()}`);
    }
    const infos = JSON.parse(res.stdout) as {
      Id: string;
      Name: string;
      State: { Status: string };
      Config: { Labels: Record<string, string> };
      HostConfig: { Binds: string[] | null };
    }[];
    for (const c of infos) {
      const inDir = (path: string) => `${path}/`.startsWith(prefix);
      const sources = (c.HostConfig.Binds ?? []).map((b) => b.split(':')[0]);
      if (inDir(c.Config.Labels['ai.dstack.home'] ?? '') || sources.some(inDir)) {
        containers.push({ id: c.Id, what: `${c.Name.replace(/^\//, '')} (${c.State.Status}, job ${c.Config.Labels['ai.dstack.job-id']})` });
      }
    }
  }
  return { processes, containers };
}

/** A run name unique to this test run (names must start with a letter). */
export function runName(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * A git repo in `dir`/repo: one committed file, one committed then modified, one untracked (not
 * ignored), one ignored.
 */
export async function makeGitRepo(dir: string, env?: NodeJS.ProcessEnv): Promise<string> {
  const repo = join(dir, 'repo');
  mkdirSync(repo);
  const git = (...args: string[]) => mustRun('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { env });
  await git('init', '-q');
  writeFileSync(join(repo, 'committed.txt'), 'committed-content\n');
  writeFileSync(join(repo, 'modified.txt'), 'original-content\n');
  writeFileSync(join(repo, '.gitignore'), 'ignored.txt\n');
  await git('add', 'committed.txt', 'modified.txt', '.gitignore');
  await git('commit', '-q', '-m', 'init');
  writeFileSync(join(repo, 'modified.txt'), 'modified-content\n');
  writeFileSync(join(repo, 'untracked.txt'), 'untracked-content\n');
  writeFileSync(join(repo, 'ignored.txt'), 'ignored-content\n');
  return repo;
}

/** `$DSTACK_HOME/ssh/config`, or '' before the daemon wrote it. */
export function sshConfigOf(dstackHome: string): string {
  const f = join(dstackHome, 'ssh', 'config');
  return existsSync(f) ? readFileSync(f, 'utf8') : '';
}

/** Does `$DSTACK_HOME/ssh/config` have a `Host NAME` block? */
export function hasHostBlockIn(dstackHome: string, name: string): boolean {
  return new RegExp(`^Host\\s+${name}\\s*$`, 'm').test(sshConfigOf(dstackHome));
}

/** OpenSSH as a user runs it: the temp HOME's ~/.ssh/config, which holds the daemon's Include. */
export function sshAs(u: Pick<UserHome, 'home' | 'env'>, host: string, command: string, timeoutMs = 120_000): Promise<RunResult> {
  return run('ssh', ['-F', join(u.home, '.ssh', 'config'), '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=30', host, command], {
    env: u.env,
    timeoutMs,
  });
}

/** The built CLI's path, for suites that run it. */
export const CLI = join(ROOT, 'dist/cli.cjs');
