// Instance volumes (JobSpec.mounts): folders of the host bind-mounted into the job's container.
//
// The agent makes the host side itself, before the container: a missing folder is created (its
// missing parents 0755, the folder 0777 so any user of the container can write it, as dstack's shim
// does); an existing one is left as it is. The walk starts at the host's "/" and goes one held folder
// descriptor at a time (safe-fs/held-dir.ts), never through a symbolic link: a link anywhere on the
// path is refused, since an instance volume of an earlier run is a tree a job could write, and a link
// planted there must not lead a later mount onto the host's files. Docker then binds the folder by
// its path, so once the container is up the agent checks that what is mounted at the target is the
// very folder it held (device and inode, looked up inside the container's root), and fails the job
// when not: a swap between the check and Docker's bind is caught before any of the job's own
// commands runs (PID 1 is the agent's keep-alive loop).
//
// A mount that cannot be made (a host-mode job, which has no container; a folder that cannot be
// created, or is a link or a file) fails the job with reason `volume_error`, unless it is
// `optional`: then the job runs without it and its log says why. What is refused whatever the host
// (a relative path, `..`, a target of / or under /workflow, a source inside or above the agent's
// data dir) fails the job either way.
import { mkdirSync, readlinkSync, realpathSync } from 'node:fs';
import { posix } from 'node:path';
import { userInfo } from 'node:os';
import type { Mount } from '@dstack/core/gen/agent';
import { HeldDir } from '../safe-fs/held-dir';
import { resolveInRoot } from '../safe-fs/in-root';
import { JobError, type RuntimeJob } from './runtime';

/** A mount the container gets: its host folder as the agent made and held it. */
export interface PreparedMount {
  source: string;
  target: string;
  readOnly: boolean;
  /** The folder's device and inode when the agent held it. */
  dev: number;
  ino: number;
}

/** Modes of what the agent creates: dstack's (shim/volumes.go prepareInstanceMountPoints). */
const PARENT_MODE = 0o755;
const FOLDER_MODE = 0o777;

function isCleanAbsolute(p: string): boolean {
  return p.startsWith('/') && !p.includes('\0') && posix.normalize(p) === p && (p === '/' || !p.endsWith('/'));
}

function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);
}

/** The data dir and the path it really is (links resolved): a source must stay clear of both. */
function dataDirPaths(dataDir: string): string[] {
  try {
    return [...new Set([dataDir, realpathSync(dataDir)])];
  } catch {
    return [dataDir];
  }
}

/** What is wrong with a mount on any host, or undefined. */
export function mountProblem(m: Mount, dataDir: string): string | undefined {
  const source = `instance_path ${JSON.stringify(m.source)}`;
  const target = `path ${JSON.stringify(m.target)}`;
  if (!isCleanAbsolute(m.source)) return `${source}: expected an absolute path without \`..\`, \`.\` or a trailing /`;
  if (!isCleanAbsolute(m.target)) return `${target}: expected an absolute path without \`..\`, \`.\` or a trailing /`;
  if (m.target === '/') return `${target}: a volume cannot be mounted over the container's root`;
  if (within(m.target, '/workflow')) return `${target}: /workflow holds the run's code; mount the volume elsewhere`;
  for (const d of dataDirPaths(dataDir)) {
    if (within(m.source, d)) return `${source} is inside the agent's data dir (${d}): a job must not reach the agent's files`;
    if (within(d, m.source)) return `${source} holds the agent's data dir (${d}): a job must not reach the agent's files`;
  }
  return undefined;
}

function describe(err: unknown, at: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return `cannot create ${at}: permission denied (the agent runs as ${userInfo().username})`;
  if (code === 'EROFS') return `cannot create ${at}: read-only file system`;
  if (code === 'ELOOP' || code === 'ENOTDIR') return `${at} changed into a link or a file while the agent made the path`;
  return `${at}: ${code ?? (err as Error).message}`;
}

/**
 * The host folder at `path`, made where missing, walked from "/" without following a link; its
 * device and inode. Throws an Error whose message says what is wrong, for a human.
 */
export function makeSource(path: string): { dev: number; ino: number } {
  let dir = HeldDir.open('/');
  let at = '';
  try {
    const names = path.split('/').filter(Boolean);
    for (const [i, name] of names.entries()) {
      at += `/${name}`;
      let st = dir.lstat(name);
      if (!st) {
        try {
          mkdirSync(dir.at(name), PARENT_MODE);
          dir.chmod(name, i === names.length - 1 ? FOLDER_MODE : PARENT_MODE);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(describe(err, at));
        }
        st = dir.lstat(name);
        if (!st) throw new Error(`${at} vanished right after it was made`);
      }
      if (st.isSymbolicLink()) {
        let to = '';
        try {
          to = ` (to ${readlinkSync(dir.at(name))})`;
        } catch {
          /* gone meanwhile */
        }
        throw new Error(`${at} is a symbolic link${to}: write the path it leads to (the agent follows no link to a volume)`);
      }
      if (!st.isDirectory()) throw new Error(`${at} is not a folder`);
      let next: HeldDir;
      try {
        next = dir.openDir(name);
      } catch (err) {
        throw new Error(describe(err, at));
      }
      dir.close();
      dir = next;
    }
    const st = dir.stat();
    return { dev: st.dev, ino: st.ino };
  } finally {
    dir.close();
  }
}

/**
 * The job's mounts made on the host, for its container. Throws JobError('volume_error') for a
 * mount refused outright and for one that cannot be made and is not optional; an optional one that
 * cannot be made is left out, with a line in the job's log.
 */
export function prepareMounts(job: Pick<RuntimeJob, 'spec' | 'note'>, dataDir: string): PreparedMount[] {
  const out: PreparedMount[] = [];
  const targets = new Set<string>();
  for (const m of job.spec.mounts) {
    const problem = mountProblem(m, dataDir) ?? (targets.has(m.target) ? `path ${JSON.stringify(m.target)} is mounted twice` : undefined);
    if (problem) throw new JobError('volume_error', `volumes: ${problem}`);
    targets.add(m.target);
    try {
      out.push({ source: m.source, target: m.target, readOnly: m.readOnly, ...makeSource(m.source) });
    } catch (err) {
      const why = `volumes: instance_path ${JSON.stringify(m.source)}: ${(err as Error).message}`;
      if (!m.optional) throw new JobError('volume_error', why);
      job.note(`${why}; it is optional, so the job runs without it at ${m.target}`);
    }
  }
  for (const m of out) job.note(`volume ${m.source} mounted at ${m.target}`);
  return out;
}

/**
 * A host-mode job has no container to mount into: a mount that is not optional fails it (with
 * every static problem first), an optional one is left out with a line in its log.
 */
export function refuseMountsOnHost(job: Pick<RuntimeJob, 'spec' | 'note'>, dataDir: string): void {
  for (const m of job.spec.mounts) {
    const problem = mountProblem(m, dataDir);
    if (problem) throw new JobError('volume_error', `volumes: ${problem}`);
  }
  const required = job.spec.mounts.filter((m) => !m.optional);
  if (required.length) {
    const list = required.map((m) => `${m.source}:${m.target}`).join(', ');
    throw new JobError(
      'volume_error',
      `volumes: ${list}: instance volumes need a container, and this job runs on the host (no Docker engine answers here, or the instance is itself a container); mark them \`optional: true\` to run without them`,
    );
  }
  for (const m of job.spec.mounts)
    job.note(`volumes: ${m.source}:${m.target} left out: this job runs on the host, without a container to mount it in (it is optional)`);
}

/**
 * Is each mount of the running container the folder the agent held? Looked up inside the
 * container's root (its links followed there, as Docker resolves a target). The problem, for a
 * human, or undefined; `unverifiable` when the container's root cannot be reached (an agent that
 * is not root).
 */
export function checkMounted(pid: number, mounts: readonly PreparedMount[]): string | undefined | 'unverifiable' {
  if (!mounts.length) return undefined;
  let root: HeldDir;
  try {
    root = HeldDir.open(`/proc/${pid}/root`);
  } catch {
    return 'unverifiable';
  }
  try {
    for (const m of mounts) {
      let st: { dev: number; ino: number } | undefined;
      try {
        const r = resolveInRoot(root, m.target);
        try {
          st = r.name ? r.parent?.lstat(r.name) : r.parent?.stat();
        } finally {
          r.parent?.close();
        }
      } catch {
        st = undefined;
      }
      if (!st || st.dev !== m.dev || st.ino !== m.ino) {
        return `volumes: what the container has at ${m.target} is not the folder ${m.source} the agent made and checked (it changed meanwhile); the job is not started`;
      }
    }
    return undefined;
  } finally {
    root.close();
  }
}
