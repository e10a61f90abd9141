// `dstack sync NAME --pull`: files changed under /workflow on the instance come home to the repo dir,
// once, never overwriting a local change.
//
// The agent lists what differs from what it last wrote (ListCodeChanges: the upload's and live sync's
// record, synced.json) and sends those files' bytes (ReadCodeFiles; a link there is reported, never
// followed). Per path, against the local copy and the version last sent (`synced_sha256`):
//   local as last sent, or missing  → the instance's version is written
//   local equal to the instance's   → nothing to do
//   local changed too               → the instance's version goes beside it, as PATH.remote-conflict
//                                     (.2, .3, ... when one is there: a kept version is never
//                                     replaced), the live-sync name; the local file stays as it is
//   deleted there, as last sent here → deleted here; changed here → kept, and said
// New files on the instance that the repo's rules leave out (.gitignore, .dstackignore, `.git`) stay
// there. Writes go to a temp file beside the target and are renamed into place; a local path whose
// folder is a link (or a file) is skipped, so nothing is written outside the repo dir.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CodeChange } from '@dstack/core/gen/agent';
import type { PullSyncResponse } from '@dstack/core/gen/daemon';
import type { AgentRpc } from '../agent/rpc';
import { loadDstackignore } from '../code/repo-files';

const CONFLICT_SUFFIX = '.remote-conflict';

/** What `git check-ignore` says of paths the repo does not have (a non-git folder: nothing). */
function gitIgnored(root: string, paths: string[]): Promise<Set<string>> {
  if (!paths.length) return Promise.resolve(new Set());
  return new Promise((resolve) => {
    const child = execFile('git', ['-C', root, 'check-ignore', '-z', '--stdin'], { maxBuffer: 256 << 20 }, (err, stdout) => {
      // Exit 1: none ignored; 128: not a git repo. Either way only what was printed counts.
      if (err && typeof err.code !== 'number') return resolve(new Set());
      resolve(new Set(String(stdout).split('\0').filter(Boolean)));
    });
    child.stdin?.end(paths.join('\0'));
  });
}

/** The instance's new files that the upload's rules would have sent (so they belong in the repo). */
async function wanted(root: string, added: string[]): Promise<Set<string>> {
  const ig = loadDstackignore(root);
  const candidates = added.filter((p) => !ig?.ignores(p));
  const ignored = await gitIgnored(root, candidates);
  return new Set(candidates.filter((p) => !ignored.has(p)));
}

/** Every folder between the repo dir and `rel` is a folder (or not there yet): never a link. */
function safeParents(root: string, rel: string): boolean {
  const parts = rel.split('/').slice(0, -1);
  let at = root;
  for (const part of parts) {
    at = join(at, part);
    const st = lstatSync(at, { throwIfNoEntry: false });
    if (!st) return true;
    if (!st.isDirectory()) return false;
  }
  return true;
}

function sha256Of(abs: string): string {
  return createHash('sha256').update(readFileSync(abs)).digest('hex');
}

type Local = { kind: 'none' } | { kind: 'file'; sha: string } | { kind: 'other' };

function localOf(abs: string): Local {
  const st = lstatSync(abs, { throwIfNoEntry: false });
  if (!st) return { kind: 'none' };
  if (!st.isFile()) return { kind: 'other' };
  return { kind: 'file', sha: sha256Of(abs) };
}

/**
 * Where the instance's version of `rel` goes beside the local one: `rel.remote-conflict`, or `.2`,
 * `.3`, ... (the first name not taken); `kept` when one of those already holds exactly that version
 * (an earlier pull), so pulling again adds nothing.
 */
function conflictName(root: string, rel: string, sha: string): { name: string; kept: boolean } {
  let name = `${rel}${CONFLICT_SUFFIX}`;
  for (let n = 2; ; n++) {
    const local = localOf(join(root, name));
    if (local.kind === 'none') return { name, kept: false };
    if (local.kind === 'file' && local.sha === sha) return { name, kept: true };
    name = `${rel}${CONFLICT_SUFFIX}.${n}`;
  }
}

interface Planned {
  change: CodeChange;
  /** Where the instance's version goes (relative): the path itself or its conflict name. */
  target: string;
  conflict: boolean;
}

/**
 * What changed under the job's code dir on the instance that belongs in the repo: every change to a
 * path the agent wrote, and new files the repo's rules would upload (not a `.venv` or `__pycache__`
 * the repo ignores). Used for the stop's listing and by the pull.
 */
export async function remoteChanges(rpc: AgentRpc, jobId: string, root: string): Promise<CodeChange[]> {
  const listing = await rpc.listCodeChanges(jobId);
  if (listing.noCode) return [];
  const keepAdded = await wanted(
    root,
    listing.changes.filter((c) => c.change === 'added').map((c) => c.path),
  );
  return listing.changes.filter((c) => c.change !== 'added' || keepAdded.has(c.path));
}

export async function pullChanges(rpc: AgentRpc, jobId: string, root: string): Promise<PullSyncResponse> {
  const res: PullSyncResponse = { repoDir: root, pulled: [], conflicts: [], skipped: [], unchanged: 0 };
  const fetch: Planned[] = [];
  for (const c of await remoteChanges(rpc, jobId, root)) {
    if (!safeParents(root, c.path)) {
      res.skipped.push({ path: c.path, reason: 'a folder on its way here is a link or a file: not written through' });
      continue;
    }
    const abs = join(root, c.path);
    const local = localOf(abs);
    if (c.change === 'deleted') {
      if (local.kind === 'none') res.unchanged++;
      else if (local.kind === 'file' && local.sha === c.syncedSha256) {
        unlinkSync(abs);
        res.pulled.push({ path: c.path, action: 'deleted' });
      } else res.skipped.push({ path: c.path, reason: 'deleted on the instance, changed here: kept' });
      continue;
    }
    if (c.kind === 'link') {
      res.skipped.push({ path: c.path, reason: `a link on the instance (to ${c.symlinkTarget}): not brought home` });
      continue;
    }
    if (c.kind !== 'file') {
      res.skipped.push({ path: c.path, reason: 'not a regular file on the instance' });
      continue;
    }
    if (local.kind === 'file' && local.sha === c.sha256) {
      res.unchanged++;
      continue;
    }
    const untouched = local.kind === 'none' || (local.kind === 'file' && c.syncedSha256 !== '' && local.sha === c.syncedSha256);
    if (untouched) {
      fetch.push({ change: c, target: c.path, conflict: false });
      continue;
    }
    const aside = conflictName(root, c.path, c.sha256);
    if (aside.kept) res.conflicts.push({ path: c.path, keptAs: aside.name });
    else fetch.push({ change: c, target: aside.name, conflict: true });
  }
  if (fetch.length) await receive(rpc, jobId, root, fetch, res);
  return res;
}

/** Streams the planned files from the agent into temp files, each renamed into place once whole and checked. */
async function receive(rpc: AgentRpc, jobId: string, root: string, plan: Planned[], res: PullSyncResponse): Promise<void> {
  const byPath = new Map(plan.map((p) => [p.change.path, p]));
  let open: { fd: number; tmp: string; hash: ReturnType<typeof createHash>; p: Planned } | undefined;
  const drop = () => {
    if (!open) return;
    closeSync(open.fd);
    try {
      unlinkSync(open.tmp);
    } catch {
      /* already gone */
    }
    open = undefined;
  };
  try {
    for await (const chunk of rpc.readCodeFiles(
      jobId,
      plan.map((p) => p.change.path),
    )) {
      const p = byPath.get(chunk.path);
      if (!p) continue;
      if (chunk.error) {
        res.skipped.push({ path: p.change.path, reason: chunk.error });
        continue;
      }
      if (!open) {
        const abs = join(root, p.target);
        mkdirSync(dirname(abs), { recursive: true });
        const tmp = `${abs}.dstack-pull-${process.pid}`;
        // 'wx': never through whatever is at the temp name.
        open = { fd: openSync(tmp, 'wx', p.change.mode || 0o644), tmp, hash: createHash('sha256'), p };
      }
      writeSync(open.fd, chunk.data);
      open.hash.update(chunk.data);
      if (!chunk.last) continue;
      const sha = open.hash.digest('hex');
      if (sha !== p.change.sha256) {
        drop();
        res.skipped.push({ path: p.change.path, reason: 'changed on the instance while it was read: pull again' });
        continue;
      }
      fsyncSync(open.fd);
      closeSync(open.fd);
      renameSync(open.tmp, join(root, p.target));
      open = undefined;
      if (p.conflict) res.conflicts.push({ path: p.change.path, keptAs: p.target });
      else res.pulled.push({ path: p.change.path, action: 'written' });
    }
  } finally {
    drop();
  }
}
