// Which files of the user's repo go to the instance. In a git repo: tracked files plus untracked
// ones that .gitignore does not exclude, as they are on disk now (uncommitted edits included,
// deleted-but-tracked files skipped). A folder that is not a git repo: everything but `.git`.
// Either way, minus the patterns of `.dstackignore` at the repo's root (gitignore syntax).
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import ignore, { type Ignore } from 'ignore';
import { formatSize } from '@dstack/core/bytes';

const execFileP = promisify(execFile);

export interface RepoFile {
  /** Relative to the repo root, forward slashes. */
  path: string;
  abs: string;
  /** 0644 or 0755 for files; 0777 for symlinks. */
  mode: number;
  size: number;
  symlinkTarget?: string;
  mtimeNs: bigint;
  ino: number;
}

export interface RepoListing {
  root: string;
  git: boolean;
  files: RepoFile[];
  totalBytes: number;
}

/**
 * The repo's top folder as `git rev-parse --show-toplevel` finds it (the nearest folder up holding
 * `.git`, a folder or, in worktrees and submodules, a file; symlinks resolved), without starting
 * git: a spawn from the daemon blocks its event loop for milliseconds, on every apply and sync.
 */
function isGitDir(path: string, depth = 0): boolean {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return false;
  }
  if (st.isFile() && depth === 0) {
    // A worktree's or submodule's `.git` file: `gitdir: <path>`.
    const m = /^gitdir: (.+)$/m.exec(readFileSync(path, 'utf8'));
    return !!m && isGitDir(resolve(dirname(path), m[1].trim()), 1);
  }
  if (!st.isDirectory()) return false;
  // What git itself checks: a HEAD that is a ref or a commit id, and objects (or a common dir).
  let head = '';
  try {
    head = readFileSync(join(path, 'HEAD'), 'utf8');
  } catch {
    return false;
  }
  if (!/^(ref: refs\/|[0-9a-f]{40}|[0-9a-f]{64})/.test(head)) return false;
  return existsSync(join(path, 'objects')) || existsSync(join(path, 'commondir'));
}

function gitToplevel(dir: string): string | null {
  let d: string;
  try {
    d = realpathSync(dir);
  } catch {
    return null;
  }
  for (;;) {
    if (isGitDir(join(d, '.git'))) return d;
    const up = dirname(d);
    if (up === d) return null;
    d = up;
  }
}

/** The patterns of `.dstackignore`, or null when there is none (then nothing is tested against it). */
export function loadDstackignore(root: string): Ignore | null {
  let text: string;
  try {
    text = readFileSync(join(root, '.dstackignore'), 'utf8');
  } catch {
    return null;
  }
  return ignore().add(text);
}

// Synchronous stats on purpose: for a 20,000-file repo they take tens of milliseconds, where
// promise-per-file stats through the thread pool take ten times that.
function statFile(root: string, rel: string): RepoFile | 'dir' | null {
  const abs = join(root, ...rel.split('/'));
  let st;
  try {
    st = lstatSync(abs, { bigint: true });
  } catch {
    return null; // deleted but still tracked
  }
  if (st.isDirectory()) return 'dir';
  const base = { path: rel, abs, mtimeNs: st.mtimeNs, ino: Number(st.ino) };
  if (st.isSymbolicLink()) return { ...base, mode: 0o777, size: 0, symlinkTarget: readlinkSync(abs) };
  if (!st.isFile()) return null; // sockets, fifos, devices
  return { ...base, mode: Number(st.mode) & 0o111 ? 0o755 : 0o644, size: Number(st.size) };
}

/** Every file under `rel` (a folder), skipping `.git` and what `ig` ignores. */
function walk(root: string, rel: string, ig: Ignore | null, out: RepoFile[]): void {
  const entries = readdirSync(rel ? join(root, rel) : root, { withFileTypes: true });
  for (const e of entries) {
    if (e.name === '.git') continue;
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      if (ig?.ignores(`${p}/`)) continue;
      walk(root, p, ig, out);
      continue;
    }
    if (ig?.ignores(p)) continue;
    const f = statFile(root, p);
    if (f && f !== 'dir') out.push(f);
  }
}

/** Paths per `git ls-files` call when only some are listed (command-line length). */
const PATHSPECS_PER_CALL = 1000;

/**
 * One apply lists the whole repo three times within a second (GetPlan, ApplyRun, the upload), and
 * starting git is the costly part: its path list is kept for a moment, keyed by what a commit, a
 * checkout or `git add` changes (the index's mtime and size, HEAD). Every file is stat'ed again on
 * each listing, so edits made in between are seen; an untracked file created within the moment is
 * not, as if it had come just after the listing.
 */
const LS_FILES_TTL_MS = 3000;
const lsFilesCache = new Map<string, { key: string; at: number; paths: string[] }>();

/** The repo's git dir: `.git`, or where a worktree's or submodule's `.git` file points; null if unreadable. */
function gitDirOf(root: string): string | null {
  const gitDir = join(root, '.git');
  if (!lstatSync(gitDir).isFile()) return gitDir;
  const m = /^gitdir: (.+)$/m.exec(readFileSync(gitDir, 'utf8'));
  return m ? resolve(root, m[1].trim()) : null;
}

function gitStateKey(root: string): string | null {
  try {
    const gitDir = gitDirOf(root);
    if (!gitDir) return null;
    const head = readFileSync(join(gitDir, 'HEAD'), 'utf8');
    let index = 'none';
    try {
      const st = lstatSync(join(gitDir, 'index'), { bigint: true });
      index = `${st.mtimeNs}:${st.size}:${st.ino}`;
    } catch {
      // no index yet: nothing added
    }
    return `${head.trim()}|${index}`;
  } catch {
    return null;
  }
}

/** `git ls-files` (of `spec` when given): tracked files and untracked ones .gitignore does not exclude. */
async function lsFiles(root: string, spec: readonly string[] = []): Promise<string[]> {
  const { stdout } = await execFileP(
    'git',
    [
      '-C',
      root,
      '-c',
      'core.quotePath=off',
      '--literal-pathspecs',
      'ls-files',
      '-z',
      '--cached',
      '--others',
      '--exclude-standard',
      ...(spec.length ? ['--', ...spec] : []),
    ],
    { maxBuffer: 1 << 30, encoding: 'buffer' },
  );
  return stdout.toString('utf8').split('\0');
}

async function lsFilesCached(root: string): Promise<string[]> {
  const key = gitStateKey(root);
  const hit = lsFilesCache.get(root);
  if (key && hit && hit.key === key && Date.now() - hit.at < LS_FILES_TTL_MS) return hit.paths;
  const paths = await lsFiles(root);
  if (key) lsFilesCache.set(root, { key, at: Date.now(), paths });
  else lsFilesCache.delete(root);
  return paths;
}

/**
 * The repo's files; with `paths` (relative to the repo root; folders stand for what is under them),
 * only those among them, by the same rules (live sync lists what changed). `reuse`: git's list of
 * the whole repo may be the one of a moment ago (the steps of one apply); live sync never reuses.
 */
export async function listRepoFiles(dir: string, opts: { paths?: readonly string[]; reuse?: boolean } = {}): Promise<RepoListing> {
  const abs = resolve(dir);
  const top = gitToplevel(abs);
  const root = top ?? abs;
  const ig = loadDstackignore(root);
  const files: RepoFile[] = [];
  if (top) {
    const listed: string[] = [];
    if (!opts.paths) listed.push(...(await (opts.reuse ? lsFilesCached(root) : lsFiles(root))));
    else
      for (let i = 0; i < opts.paths.length; i += PATHSPECS_PER_CALL)
        listed.push(...(await lsFiles(root, opts.paths.slice(i, i + PATHSPECS_PER_CALL))));
    const paths = [...new Set(listed.filter(Boolean))].filter((p) => !ig?.ignores(p));
    for (const p of paths) {
      const f = statFile(root, p);
      if (f === 'dir')
        walk(root, p, ig, files); // a submodule: its working tree
      else if (f) files.push(f);
    }
  } else if (opts.paths) {
    for (const p of opts.paths) {
      if (ig?.ignores(p)) continue;
      const f = statFile(root, p);
      if (f === 'dir') {
        if (!ig?.ignores(`${p}/`)) walk(root, p, ig, files);
      } else if (f) files.push(f);
    }
  } else {
    walk(root, '', ig, files);
  }
  if (opts.paths) {
    const unique = new Map(files.map((f) => [f.path, f]));
    files.splice(0, files.length, ...unique.values());
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const totalBytes = files.reduce((n, f) => n + f.size, 0);
  return { root: root.split(sep).join('/'), git: Boolean(top), files, totalBytes };
}

/**
 * remote.origin.url from the repo's own config file, read directly (no git process); undefined
 * when that file uses what this reader does not follow (include directives), so git is asked.
 */
function originFromConfig(root: string): string | null | undefined {
  try {
    let gitDir = gitDirOf(root);
    if (!gitDir) return undefined;
    // A worktree's own dir names the shared one, which holds the config.
    if (existsSync(join(gitDir, 'commondir'))) gitDir = resolve(gitDir, readFileSync(join(gitDir, 'commondir'), 'utf8').trim());
    const text = readFileSync(join(gitDir, 'config'), 'utf8');
    if (/^\s*\[\s*include/im.test(text)) return undefined;
    let inOrigin = false;
    let url: string | null = null;
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      const section = /^\[\s*([^\s\]"]+)(?:\s+"([^"]*)")?\s*\]/.exec(line);
      if (section) {
        inOrigin = section[1].toLowerCase() === 'remote' && section[2] === 'origin';
        continue;
      }
      const kv = /^url\s*=\s*(.*)$/i.exec(line);
      if (inOrigin && kv) url = kv[1].replace(/^"(.*)"$/, '$1').trim();
    }
    return url;
  } catch {
    return undefined;
  }
}

/** A stable id for the repo: its origin URL when it has one, else its absolute path. */
export async function repoId(listing: Pick<RepoListing, 'root' | 'git'>): Promise<string> {
  const { createHash } = await import('node:crypto');
  let basis = `path:${listing.root}`;
  if (listing.git) {
    let url = originFromConfig(listing.root);
    if (url === undefined) {
      try {
        url = (await execFileP('git', ['-C', listing.root, 'config', '--get', 'remote.origin.url'])).stdout.trim();
      } catch {
        url = null; // no remote
      }
    }
    if (url) basis = `remote:${url}`;
  }
  return createHash('sha256').update(basis).digest('hex').slice(0, 16);
}

export class RepoTooLargeError extends Error {
  override name = 'RepoTooLargeError';
}

/** Throws RepoTooLargeError naming the largest paths when the repo is over `limit` bytes. */
export function checkRepoSize(listing: RepoListing, limit: number): void {
  if (listing.totalBytes <= limit) return;
  const largest = [...listing.files].sort((a, b) => b.size - a.size).slice(0, 5);
  throw new RepoTooLargeError(
    `the repo ${listing.root} is ${formatSize(listing.totalBytes)}, over the ${formatSize(limit)} limit ` +
      `(repo_size_limit in config.yml); largest: ${largest.map((f) => `${f.path} (${formatSize(f.size)})`).join(', ')}. ` +
      'Add them to .dstackignore (or .gitignore), raise repo_size_limit, or apply with --no-repo',
  );
}
