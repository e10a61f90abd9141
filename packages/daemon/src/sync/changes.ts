// What a batch sends: the changed paths (and what is under changed folders), listed by the same
// rules as the upload (git itself decides what .gitignore excludes, then .dstackignore), hashed, and
// compared with what was last synced. Above WHOLE_TREE_AFTER paths (a branch switch) the whole
// tree is listed instead, with the hash cache: one git call, and unchanged files are not re-read.
import { HashCache, type HashedFile } from '../code/hash-cache';
import { listRepoFiles } from '../code/repo-files';
import type { PathKind } from './batcher';

/** What was last synced to a path: kind, mode and content (or a link's target). */
export type Signature = string;

export function signature(f: HashedFile): Signature {
  return f.symlinkTarget !== undefined ? `l:${f.symlinkTarget}` : `f:${f.mode.toString(8)}:${f.sha256}`;
}

export const WHOLE_TREE_AFTER = 1000;

export interface LocalDelta {
  /** Files to send (new or changed since the last sync). */
  files: HashedFile[];
  /** Synced paths that are gone (or now ignored). */
  removed: string[];
  /** The whole tree was listed. */
  whole: boolean;
}

const noCache = new HashCache(null);

export function isIgnoreFile(rel: string): boolean {
  return rel === '.dstackignore' || rel === '.gitignore' || rel.endsWith('/.gitignore');
}

function lowerBound(sorted: string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Synced paths equal to `p` or under it, from the sorted list of synced paths. */
export function syncedUnder(sorted: string[], p: string): string[] {
  const out: string[] = [];
  if (sorted[lowerBound(sorted, p)] === p) out.push(p);
  const prefix = `${p}/`;
  for (let i = lowerBound(sorted, prefix); i < sorted.length && sorted[i].startsWith(prefix); i++) out.push(sorted[i]);
  return out;
}

export async function localDelta(
  root: string,
  dirty: ReadonlyMap<string, PathKind>,
  synced: ReadonlyMap<string, Signature>,
  hashCache: HashCache,
): Promise<LocalDelta> {
  let files: HashedFile[] | undefined;
  let whole = dirty.size > WHOLE_TREE_AFTER;
  if (!whole) {
    try {
      const listing = await listRepoFiles(root, { paths: [...dirty.keys()] });
      files = (await noCache.hash(listing.files)).files;
    } catch {
      whole = true; // e.g. a path inside a submodule, which git refuses as a pathspec
    }
  }
  if (whole || !files) files = (await hashCache.hash((await listRepoFiles(root)).files)).files;

  const listed = new Set(files.map((f) => f.path));
  const changed = files.filter((f) => synced.get(f.path) !== signature(f));
  let candidates: Iterable<string>;
  if (whole) candidates = synced.keys();
  else {
    const sorted = [...synced.keys()].sort();
    const set = new Set<string>();
    for (const p of dirty.keys()) for (const s of syncedUnder(sorted, p)) set.add(s);
    candidates = set;
  }
  const removed = [...candidates].filter((p) => !listed.has(p));
  return { files: changed, removed, whole };
}
