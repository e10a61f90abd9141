// Shared by the live sync suites: a CLI sandbox (test/cli/helpers.ts: its own DSTACK_HOME and HOME,
// the built CLI, the test Docker engine), a git repo with a dev environment configuration, the
// repo's files as git lists them (hashed here, independently of the daemon's code), the run's
// /workflow as OpenSSH sees it (`ssh NAME`), and the daemon's state from outside (its pid, its
// inotify watches, `dstack sync NAME --status --json`).
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import { mustRun, waitFor } from '../harness/util';
import { gitRepo, mustDstack, ssh, type Sandbox } from '../cli/helpers';

export { Terminal } from '../cli/pty';
export { dstack, mustDstack, runName, sandbox, ssh, waitForRun, type Sandbox } from '../cli/helpers';

/** The resources every test machine has. */
export const SMALL = 'resources:\n  cpu: 1..\n  memory: 1GB..\n  disk: 1GB..\n';

export interface SyncStatusJson {
  runName: string;
  state: string;
  pending?: number;
  lastSyncedMs?: number;
  filesSynced?: number;
  conflicts?: { path: string; keptAs: string }[];
  error?: string;
  repoDir?: string;
  batches?: number;
  roundTrips?: number;
  remoteDir?: string;
  lastBatchFiles?: number;
}

/** A git repo (test/cli's: committed, modified, untracked and ignored files) with a dev environment named `name`. */
export async function syncRepo(sb: Sandbox, name: string, extra = ''): Promise<string> {
  return gitRepo(sb, `type: dev-environment\nname: ${name}\n${SMALL}${extra}`);
}

export function git(sb: Sandbox, repo: string, ...args: string[]) {
  return mustRun('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { env: sb.env });
}

export function writeFiles(root: string, files: Record<string, string | Buffer>): void {
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), content);
  }
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** What should be on the instance: the files git lists (tracked and untracked-not-ignored), minus .dstackignore'd ones the caller drops. */
export async function localTree(sb: Sandbox, repo: string, drop: (p: string) => boolean = () => false): Promise<Map<string, string>> {
  const out = await git(sb, repo, 'ls-files', '-z', '--cached', '--others', '--exclude-standard');
  const tree = new Map<string, string>();
  for (const p of [...new Set(out.stdout.split('\0').filter(Boolean))].sort()) {
    if (drop(p)) continue;
    const abs = join(repo, p);
    if (!existsSync(abs) && !isLink(abs)) continue; // deleted but still tracked
    tree.set(p, isLink(abs) ? `link:${readlinkSync(abs)}` : sha256(readFileSync(abs)));
  }
  return tree;
}

function isLink(abs: string): boolean {
  try {
    return lstatSync(abs).isSymbolicLink();
  } catch {
    return false;
  }
}

/** A run's working dir on the instance, read with `ssh NAME`. */
export interface Remote {
  sb: Sandbox;
  name: string;
  /** /workflow in a container; the job's dir on a host. */
  dir: string;
}

/** Every file and symlink under the run's working dir, by path, with its sha256 (or link target), read over `ssh NAME`. */
export async function remoteTree(r: Remote): Promise<Map<string, string>> {
  const script =
    `cd ${r.dir} && find . -type f -print0 | xargs -0 -r sha256sum && ` +
    `find . -type l -print0 | xargs -0 -r -I{} sh -c 'printf "link:%s  %s\\n" "$(readlink "$1")" "$1"' _ {}`;
  const res = await ssh(r.sb, r.name, script, { timeoutMs: 120_000 });
  if (res.code !== 0) throw new Error(`ssh ${r.name} failed (${res.code}): ${res.stderr}`);
  const tree = new Map<string, string>();
  for (const line of res.stdout.split('\n').filter(Boolean)) {
    const m = /^(\S+) {2}\.\/(.*)$/.exec(line);
    if (m) tree.set(m[2], m[1]);
  }
  return new Map([...tree].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** One file's content on the instance, or null when it is not there. */
export async function remoteFile(r: Remote, path: string): Promise<string | null> {
  const res = await ssh(r.sb, r.name, `cat ${r.dir}/${path} 2>/dev/null || echo __MISSING__`);
  return res.stdout === '__MISSING__\n' ? null : res.stdout;
}

function diffTrees(want: Map<string, string>, got: Map<string, string>): string {
  const lines: string[] = [];
  for (const [p, h] of want) if (got.get(p) !== h) lines.push(`${got.has(p) ? 'differs' : 'missing'}: ${p}`);
  for (const p of got.keys()) if (!want.has(p)) lines.push(`extra: ${p}`);
  return lines.slice(0, 20).join(', ') + (lines.length > 20 ? `, +${lines.length - 20} more` : '');
}

/** Waits (generously) until the run's working dir holds exactly `want`, then asserts it (full listings with sha256s). */
export async function waitForRemoteTree(r: Remote, want: () => Promise<Map<string, string>>, timeoutMs = 180_000): Promise<void> {
  await waitFor(
    `${r.name}:${r.dir} to match the local repo`,
    async () => {
      const diff = diffTrees(await want(), await remoteTree(r));
      if (diff) throw new Error(diff);
      return true;
    },
    { timeoutMs, intervalMs: 1000 },
  );
  expect(await remoteTree(r)).toEqual(await want());
}

/** Waits until `path` on the instance reads `content` (null: until it is gone). */
export async function waitForRemoteFile(r: Remote, path: string, content: string | null, timeoutMs = 120_000): Promise<void> {
  await waitFor(
    `${r.dir}/${path} to be ${content === null ? 'gone' : JSON.stringify(content)}`,
    async () => {
      const now = await remoteFile(r, path);
      if (now !== content) throw new Error(`it is ${now === null ? 'missing' : JSON.stringify(now)}`);
      return true;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

export async function syncStatus(sb: Sandbox, name: string): Promise<SyncStatusJson> {
  const res = await mustDstack(sb, ['sync', name, '--status', '--json'], { timeoutMs: 60_000 });
  return JSON.parse(res.stdout) as SyncStatusJson;
}

export function waitForSync(sb: Sandbox, name: string, ok: (s: SyncStatusJson) => boolean, what: string, timeoutMs = 180_000) {
  return waitFor(
    `the sync of ${name} to be ${what}`,
    async () => {
      const s = await syncStatus(sb, name);
      return ok(s) ? s : undefined;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

export async function daemonPid(sb: Sandbox): Promise<number> {
  return JSON.parse((await mustDstack(sb, ['daemon', 'status', '--json'])).stdout).pid as number;
}

/** inotify watches a process holds (chokidar's fs.watch handles): 0 means no watcher is left. */
export function inotifyWatches(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let link: string;
    try {
      link = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (link !== 'anon_inode:inotify') continue;
    n += readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('inotify wd:')).length;
  }
  return n;
}

/** `dstack apply -d` (with --sync unless told otherwise) from the repo; resolves once the run is up. */
export async function applyDetached(sb: Sandbox, repo: string, { sync = true } = {}): Promise<string> {
  const res = await mustDstack(sb, ['apply', '-f', '.dstack.yml', '-y', '-d', ...(sync ? ['--sync'] : [])], {
    cwd: repo,
    timeoutMs: 300_000,
  });
  return res.stdout + res.stderr;
}
