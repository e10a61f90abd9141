// `files:` (and the local folders of `repos:`) written into the job: after its code, before init.
// The agent is root beside an untrusted image, so nothing here goes by a host path inside the
// target: the target's root is held (/proc/<pid>/root for a container) and every folder on the way
// is resolved inside it from held descriptors (safe-fs/in-root.ts), links followed as the target
// would follow them, never out of it. The entry itself is written aside in its folder and renamed
// over the name, so a link planted at the target path is replaced, never written through. Files get
// their local mode and the job user's ownership; folders made on the way are the user's too.
//
// The bytes come with SubmitJob; job.json and every answer hold the entries without them, and they
// wait in the job's own folder of the agent's data dir (files.json, 0600) until written, so a
// restarted agent can still write them.
import { closeSync, constants, fstatSync, lchownSync, readFileSync, renameSync, symlinkSync, unlinkSync, writeSync } from 'node:fs';
import { join, posix } from 'node:path';
import { writeFileAtomic } from '@dstack/core/atomic-write';
import type { JobFile } from '@dstack/core/gen/agent';
import { HeldDir, setModeOwner, type Owner } from '../safe-fs/held-dir';
import { ensureDirInRoot } from '../safe-fs/in-root';
import { JobError, type Runtime, type RuntimeJob } from '../runtime/runtime';

const STASH = 'files.json';

/** The entries without their bytes: what job.json and answers hold. */
export function withoutContent(files: readonly JobFile[] | undefined): JobFile[] {
  return (files ?? []).map((f) => ({ ...f, content: Buffer.alloc(0) }));
}

/** Keeps the entries' bytes in the job's folder until they are written. */
export function stashFiles(jobDir: string, files: readonly JobFile[] | undefined): void {
  if (!files?.length) return;
  const saved = files.map((f) => ({ ...f, content: Buffer.from(f.content).toString('base64') }));
  writeFileAtomic(join(jobDir, STASH), JSON.stringify(saved), { mode: 0o600 });
}

function loadStash(jobDir: string): JobFile[] {
  const saved = JSON.parse(readFileSync(join(jobDir, STASH), 'utf8')) as (Omit<JobFile, 'content'> & { content: string })[];
  return saved.map((f) => ({ ...f, content: Buffer.from(f.content, 'base64') }));
}

/**
 * A job path as the target sees it: `~` is the user's home, `/workflow/...` the code dir (the job's
 * folder on the host), a relative path starts at /workflow.
 */
export function targetPath(path: string, home: string, workflow: string): string {
  let p = path;
  if (p === '~' || p.startsWith('~/')) p = posix.join(home || '/', p.slice(1));
  else if (p === '/workflow' || p.startsWith('/workflow/')) p = posix.join(workflow, p.slice('/workflow'.length));
  else if (!p.startsWith('/')) p = posix.join(workflow, p);
  return posix.normalize(p);
}

/** Writes `make(tmpName)` aside in `dir`, then renames it over `name` (a link there is replaced, not followed). */
function replaceEntry(dir: HeldDir, name: string, make: (tmp: string) => void): void {
  const tmp = `.${name}.dstack-${process.pid}`;
  try {
    unlinkSync(dir.at(tmp));
  } catch {
    /* not there */
  }
  make(tmp);
  try {
    renameSync(dir.at(tmp), dir.at(name));
  } catch (err) {
    try {
      unlinkSync(dir.at(tmp));
    } catch {
      /* gone */
    }
    throw err;
  }
}

function writeEntry(root: HeldDir, f: JobFile, path: string, owner: Owner): void {
  if (f.dir) {
    ensureDirInRoot(root, path, f.mode & 0o777, owner).close();
    return;
  }
  const parent = ensureDirInRoot(root, posix.dirname(path), 0o755, owner);
  try {
    const name = posix.basename(path);
    replaceEntry(parent, name, (tmp) => {
      if (f.linkTarget) {
        symlinkSync(f.linkTarget, parent.at(tmp));
        lchownSync(parent.at(tmp), owner.uid, owner.gid);
        return;
      }
      const fd = parent.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try {
        writeSync(fd, f.content);
        setModeOwner(fd, fstatSync(fd), f.mode & 0o777, owner);
      } finally {
        closeSync(fd);
      }
    });
  } finally {
    parent.close();
  }
}

/** Writes the job's `files` entries into its target (see the header); a failure fails the job. */
export async function putJobFiles(runtime: Runtime, job: RuntimeJob, jobDir: string): Promise<void> {
  if (!job.spec.files?.length) return;
  const files = loadStash(jobDir);
  const { root: rootPath, user, workflow } = await runtime.fsRoot(job);
  const owner = { uid: user.uid, gid: user.gid };
  const root = HeldDir.open(rootPath);
  try {
    for (const f of files) {
      const path = targetPath(f.path, user.home, workflow);
      try {
        writeEntry(root, f, path, owner);
      } catch (err) {
        throw new JobError('executor_error', `files: could not write ${path}: ${(err as Error).message}`);
      }
    }
  } finally {
    root.close();
  }
  job.note(`files: wrote ${files.filter((f) => !f.dir).length} files (${files.reduce((n, f) => n + f.content.length, 0)} bytes)`);
}
