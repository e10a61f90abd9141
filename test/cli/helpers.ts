// Shared by the CLI's end-to-end suites: each test gets its own DSTACK_HOME and HOME (so the
// `Include` the daemon adds to ~/.ssh/config is a temp file), the built CLI (`dist/cli.cjs`, which
// starts `dist/daemon.cjs`, which deploys `dist/agent/`), the test Docker engine, and OpenSSH as
// the client. Nothing here fakes a part: a missing build fails the suite with what to run.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, hasHostBlockIn, makeGitRepo, requireBuilt as requireBuiltParts, sshAs, userHome } from '../harness/sandbox';
import { run, waitFor, type RunResult } from '../harness/util';

export { CLI, ROOT, runName } from '../harness/sandbox';

export function requireBuilt(): void {
  requireBuiltParts(['dist/cli.cjs', 'dist/daemon.cjs', 'dist/agent/dstack-agent-linux-x64'], 'CLI');
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
  const user = userHome(`cli-${prefix}`, { dockerHost: opts.dockerHost });
  const bin = join(user.dir, 'bin');
  mkdirSync(bin, { recursive: true, mode: 0o700 });
  writeFileSync(join(bin, 'code'), '#!/bin/sh\necho "code: not installed in tests" >&2\nexit 127\n');
  chmodSync(join(bin, 'code'), 0o755);
  const env: NodeJS.ProcessEnv = { ...user.env, PATH: `${bin}:${process.env.PATH}` };
  const sb: Sandbox = {
    dir: user.dir,
    home: user.home,
    dstackHome: user.dstackHome,
    env,
    async cleanup() {
      // Never leak a run: stop what is still active, then the daemon; then the local agent (which
      // outlives the daemon by design) and anything else of this user, and the files.
      const ps = await dstack(sb, ['ps', '-a', '--json'], { timeoutMs: 60_000 }).catch(() => undefined);
      if (ps?.code === 0) {
        for (const r of JSON.parse(ps.stdout).runs ?? []) {
          if (!['terminated', 'failed', 'done'].includes(r.status)) await dstack(sb, ['stop', r.name, '-x', '-y'], { timeoutMs: 120_000 });
        }
      }
      await dstack(sb, ['daemon', 'stop'], { timeoutMs: 60_000 }).catch(() => undefined);
      await user.end();
    },
  };
  return sb;
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
  return sshAs(sb, host, command, opts.timeoutMs);
}

export interface RunJson {
  name: string;
  status: string;
  terminationReason?: string;
  statusMessage?: string;
  configuration?: { inactivityDuration?: string | number; ide?: string; ports?: { localPort?: number; containerPort?: number }[] };
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

/** Does `$DSTACK_HOME/ssh/config` have a `Host NAME` block? */
export function hasHostBlock(sb: Sandbox, name: string): boolean {
  return hasHostBlockIn(sb.dstackHome, name);
}

/**
 * A git repo with one committed file, one committed then modified, one untracked (not ignored)
 * and one ignored, plus the configuration.
 */
export async function gitRepo(sb: Sandbox, config: string): Promise<string> {
  const repo = await makeGitRepo(sb.dir, sb.env);
  writeFileSync(join(repo, '.dstack.yml'), config);
  return repo;
}

/**
 * A dev environment on the harness registry's private image, its password taken from the CLI's
 * REG_PASSWORD; `extra` lines follow.
 */
export function privateImageConfig(name: string, reg: { privateImage: string; username: string }, extra: string[] = []): string {
  return [
    'type: dev-environment',
    `name: ${name}`,
    `image: ${reg.privateImage}`,
    'registry_auth:',
    `  username: ${reg.username}`,
    '  password: ${{ env.REG_PASSWORD }}',
    ...extra,
    '',
  ].join('\n');
}
