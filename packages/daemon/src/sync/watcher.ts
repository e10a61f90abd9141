// Watches a repo with chokidar and reports changed paths relative to its root. `.git` folders are
// never watched (nor synced), and neither are folders the repo ignores as a whole (git's ignored
// untracked folders such as node_modules or .venv, and .dstackignore's), so a large ignored tree
// costs no watches. Which files count is decided later, per batch, by git itself.
import { execFile } from 'node:child_process';
import { relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { watch, type FSWatcher } from 'chokidar';
import type { Ignore } from 'ignore';
import { loadDstackignore } from '../code/repo-files';
import type { PathKind } from './batcher';

const execFileP = promisify(execFile);

const GIT_DIR_RE = /(^|\/)\.git(\/|$)/;

export interface RepoWatcher {
  close(): Promise<void>;
  /** True once closed (for tests: no watcher is left behind). */
  readonly closed: boolean;
}

export interface WatchOptions {
  root: string;
  git: boolean;
  onChange(rel: string, kind: PathKind): void;
  onError(err: Error): void;
}

/** Folders git ignores whole (untracked), relative, without the trailing slash. */
export async function gitIgnoredDirs(root: string): Promise<Set<string>> {
  const { stdout } = await execFileP(
    'git',
    ['-C', root, '-c', 'core.quotePath=off', 'ls-files', '-z', '--others', '--ignored', '--exclude-standard', '--directory'],
    { maxBuffer: 1 << 28 },
  );
  return new Set(
    stdout
      .split('\0')
      .filter((p) => p.endsWith('/'))
      .map((p) => p.slice(0, -1)),
  );
}

function toRel(root: string, abs: string): string | null {
  const rel = relative(root, abs).split(sep).join('/');
  if (!rel || rel.startsWith('../') || rel === '..') return null;
  return rel;
}

/** Starts watching; resolves once chokidar has read the tree (changes from then on are reported). */
export async function watchRepo(opts: WatchOptions): Promise<RepoWatcher> {
  const skip = opts.git ? await gitIgnoredDirs(opts.root) : new Set<string>();
  const dstackignore: Ignore | null = loadDstackignore(opts.root);
  const ignored = (abs: string, stats?: { isDirectory(): boolean }) => {
    const rel = toRel(opts.root, abs);
    if (rel === null) return false;
    if (GIT_DIR_RE.test(rel) || skip.has(rel)) return true;
    return Boolean(stats?.isDirectory() && dstackignore?.ignores(`${rel}/`));
  };
  const w: FSWatcher = watch(opts.root, { ignoreInitial: true, followSymlinks: false, ignored, persistent: true });
  const report = (kind: PathKind) => (abs: string | Error) => {
    if (typeof abs !== 'string') return;
    const rel = toRel(opts.root, abs);
    if (rel !== null && !GIT_DIR_RE.test(rel)) opts.onChange(rel, kind);
  };
  w.on('add', report('file'));
  w.on('change', report('file'));
  w.on('unlink', report('file'));
  w.on('addDir', report('dir'));
  w.on('unlinkDir', report('dir'));
  w.on('error', (err) => opts.onError(err instanceof Error ? err : new Error(String(err))));
  await new Promise<void>((resolve) => w.once('ready', () => resolve()));
  return {
    close: () => w.close(),
    get closed() {
      return w.closed;
    },
  };
}
