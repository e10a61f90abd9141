// Shared by the CLI's end-to-end suites: each test gets its own DSTACK_HOME and HOME (so the
// `Include` the daemon adds to ~/.ssh/config is a temp file), the built CLI (`dist/cli.cjs`, which
// starts `dist/daemon.cjs`, which deploys `dist/agent/`), the test Docker engine, and OpenSSH as
// the client. Nothing here fakes a part: a missing build fails the suite with what to run.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { mustRun, run, tempDir, waitFor, type RunResult } from '../harness/util';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const CLI = join(ROOT, 'dist/cli.cjs');
const NEEDED = ['dist/cli.cjs', 'dist/daemon.cjs', 'dist/agent/dstack-agent-linux-x64'];

export function requireBuilt(): void {
  const missing = NEEDED.filter((p) => !existsSync(join(ROOT, p)));
  if (missing.length) throw new Error(`the CLI e2e suites run the built product; missing ${missing.join(', ')}: run \`npm run build\``);
}

export interface Sandbox {
  dir: string;
  home: string;
  dstackHome: string;
  env: NodeJS.ProcessEnv;
  cleanup(): Promise<void>;
}

export interface SandboxOptions {
  /** DOCKER_HOST for the daemon and agent; default the test engine. `unix:///nonexistent`: host mode. */
  dockerHost?: string;
}

/**
 * A fresh user: HOME and DSTACK_HOME in a temp dir, config.yml pointing the base image at the test
 * image, and a `code` command that fails (so no test ever makes the agent download a VS Code server).
 */
export function sandbox(prefix: string, opts: SandboxOptions = {}): Sandbox {
  requireBuilt();
  const tmp = tempDir(`cli-${prefix}`);
  const home = join(tmp.path, 'home');
  const dstackHome = join(tmp.path, 'dh');
  const bin = join(tmp.path, 'bin');
  for (const d of [home, dstackHome, bin]) mkdirSync(d, { recursive: true, mode: 0o700 });
  writeFileSync(join(dstackHome, 'config.yml'), `base_image: ${inject('debianImage')}\n`);
  writeFileSync(join(bin, 'code'), '#!/bin/sh\necho "code: not installed in tests" >&2\nexit 127\n');
  chmodSync(join(bin, 'code'), 0o755);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    DSTACK_HOME: dstackHome,
    DOCKER_HOST: opts.dockerHost ?? inject('dockerHost'),
    PATH: `${bin}:${process.env.PATH}`,
  };
  delete env.DSTACK_DEBUG;
  const sb: Sandbox = {
    dir: tmp.path,
    home,
    dstackHome,
    env,
    async cleanup() {
      // Never leak a run: stop what is still active, then the daemon.
      const ps = await dstack(sb, ['ps', '-a', '--json'], { timeoutMs: 60_000 }).catch(() => undefined);
      if (ps?.code === 0) {
        for (const r of JSON.parse(ps.stdout).runs ?? []) {
          if (!['terminated', 'failed', 'done'].includes(r.status)) await dstack(sb, ['stop', r.name, '-x', '-y'], { timeoutMs: 120_000 });
        }
      }
      await dstack(sb, ['daemon', 'stop'], { timeoutMs: 60_000 }).catch(() => undefined);
      // The local agent outlives the daemon (runs belong to it): end this sandbox's, by pid.
      const pids = pidsUnder(dstackHome);
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      await waitFor('the sandbox agent to exit', () => pidsUnder(dstackHome).length === 0, { timeoutMs: 30_000 }).catch(() => undefined);
      // A process still closing its files can race the removal once: try again.
      await waitFor('the sandbox to be removed', () => (tmp.cleanup(), true), { timeoutMs: 10_000, intervalMs: 500 });
    },
  };
  return sb;
}

/** Processes whose command line names a path under `dir` (this sandbox's agent). */
function pidsUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(`${dir}/`)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

export function dstack(
  sb: Sandbox,
  args: string[],
  opts: { cwd?: string; input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], {
    env: { ...sb.env, ...opts.env },
    cwd: opts.cwd ?? sb.dir,
    input: opts.input,
    timeoutMs: opts.timeoutMs ?? 300_000,
  });
}

/** Like dstack(), but fails the test with the CLI's output when it exits non-zero. */
export async function mustDstack(sb: Sandbox, args: string[], opts: Parameters<typeof dstack>[2] = {}): Promise<RunResult> {
  const res = await dstack(sb, args, opts);
  if (res.code !== 0) throw new Error(`dstack ${args.join(' ')} exited ${res.code ?? res.signal}:\n${res.stderr}\n${res.stdout}`);
  return res;
}

/** OpenSSH as a user runs it: ~/.ssh/config (of the temp HOME) with the daemon's Include. */
export function ssh(sb: Sandbox, host: string, command: string, opts: { timeoutMs?: number } = {}): Promise<RunResult> {
  return run(
    'ssh',
    ['-F', join(sb.home, '.ssh', 'config'), '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=30', host, command],
    { env: sb.env, timeoutMs: opts.timeoutMs ?? 120_000 },
  );
}

export interface RunJson {
  name: string;
  status: string;
  terminationReason?: string;
  statusMessage?: string;
  configurationJson?: string;
  sshAlias?: string;
  ideLink?: string;
  job?: { containerId?: string; workingDir?: string; status?: string };
  activity?: { inactiveSeconds?: number; attachedClis?: number; shellSessions?: number; execSessions?: number };
}

export async function listRuns(sb: Sandbox, all = true): Promise<RunJson[]> {
  const res = await mustDstack(sb, ['ps', ...(all ? ['-a'] : []), '--json'], { timeoutMs: 60_000 });
  return (JSON.parse(res.stdout).runs ?? []) as RunJson[];
}

export async function getRun(sb: Sandbox, name: string): Promise<RunJson | undefined> {
  return (await listRuns(sb)).find((r) => r.name === name);
}

export function waitForRun(sb: Sandbox, name: string, ok: (r: RunJson) => boolean, what: string, timeoutMs = 180_000) {
  return waitFor(
    `run ${name} to be ${what}`,
    async () => {
      const r = await getRun(sb, name);
      return r && ok(r) ? r : undefined;
    },
    { timeoutMs, intervalMs: 1000 },
  );
}

export function sshConfigText(sb: Sandbox): string {
  const f = join(sb.dstackHome, 'ssh', 'config');
  return existsSync(f) ? readFileSync(f, 'utf8') : '';
}

/** Does `$DSTACK_HOME/ssh/config` have a `Host NAME` block? */
export function hasHostBlock(sb: Sandbox, name: string): boolean {
  return new RegExp(`^Host\\s+${name}\\s*$`, 'm').test(sshConfigText(sb));
}

/**
 * A git repo with one committed file, one committed then modified, one untracked (not ignored)
 * and one ignored, plus the configuration.
 */
export async function gitRepo(sb: Sandbox, config: string): Promise<string> {
  const repo = join(sb.dir, 'repo');
  mkdirSync(repo);
  const git = (...args: string[]) => mustRun('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { env: sb.env });
  await git('init', '-q');
  writeFileSync(join(repo, 'committed.txt'), 'committed-content\n');
  writeFileSync(join(repo, 'modified.txt'), 'original-content\n');
  writeFileSync(join(repo, '.gitignore'), 'ignored.txt\n');
  await git('add', 'committed.txt', 'modified.txt', '.gitignore');
  await git('commit', '-q', '-m', 'init');
  writeFileSync(join(repo, 'modified.txt'), 'modified-content\n');
  writeFileSync(join(repo, 'untracked.txt'), 'untracked-content\n');
  writeFileSync(join(repo, 'ignored.txt'), 'ignored-content\n');
  writeFileSync(join(repo, '.dstack.yml'), config);
  return repo;
}

/** A run name unique to this test run (names must start with a letter). */
export function runName(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}
