// `files:` and `repos:` as the job gets them. The daemon runs on the user's machine, so it reads the
// local side itself: each `files` entry (a file or a folder) and each `repos` local folder other than
// the run's own repo become JobSpec.files entries, with their modes; each `repos` git URL becomes a
// JobSpec.repos entry that the agent clones inside the job. As dstack: a relative local path is
// resolved against the configuration file's folder, a relative job path against /workflow, and each
// entry is limited to 2 MB (dstack's DSTACK_SERVER_CODE_UPLOAD_LIMIT default). A missing file or an
// entry over the limit is one error naming FILE:LINE:COL of the entry and the path; it is checked by
// ApplyRun before anything is created, and read again when the job is submitted.
import { readdirSync, readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { formatSize } from '@dstack/core/bytes';
import type { DevEnvironmentConfiguration, RepoSpec } from '@dstack/core/config/index';
import { linePos, loadYaml, offsetOf } from '@dstack/core/config/yaml-source';
import type { GitRepo, JobFile } from '@dstack/core/gen/agent';
import { BadRequestError } from '@dstack/core/grpc';
import { listRepoFiles } from '../code/repo-files';

/** dstack's limit on each `files` entry and each uploaded local repo (DSTACK_SERVER_CODE_UPLOAD_LIMIT). */
export const FILES_ENTRY_LIMIT = 2 * 1024 * 1024;
/** Entries of one folder walk, links to folders included: a loop stops here. */
const MAX_ENTRIES = 10_000;

export class JobFilesError extends Error {
  override name = 'JobFilesError';
}

/** Where the configuration came from: its absolute path, and its text when known (for line:column). */
export interface ConfigFile {
  path: string;
  text?: string;
}

type Config = Pick<DevEnvironmentConfiguration, 'files' | 'repos' | 'single_branch'>;

/** `FILE:LINE:COL` of `key[index]` in the file, or just FILE without its text. */
function placeOf(file: ConfigFile, key: 'files' | 'repos', index: number): string {
  if (file.text === undefined) return file.path;
  const src = loadYaml(file.text);
  const { line, column } = linePos(src, offsetOf(src, [key, index]));
  return `${file.path}:${line}:${column}`;
}

/** A local path as dstack resolves it: `~` is the user's home, a relative one starts at the file's folder. */
export function localPath(written: string, configPath: string, home = homedir()): string {
  if (written === '~') return home;
  if (written.startsWith('~/')) return join(home, written.slice(2));
  return isAbsolute(written) ? written : resolve(dirname(configPath), written);
}

/** A job path: `~`, absolute, or relative to /workflow (the agent resolves `~` to the job user's home). */
function jobPath(base: string, rel = ''): string {
  const joined = rel ? (base === '.' ? rel : `${base}/${rel}`) : base;
  return joined === '.' ? '/workflow' : joined;
}

class Budget {
  bytes = 0;
  entries = 0;
  constructor(
    private readonly what: string,
    private readonly limit: number,
  ) {}
  add(size: number): void {
    this.bytes += size;
    if (++this.entries > MAX_ENTRIES) throw new JobFilesError(`${this.what}: more than ${MAX_ENTRIES} entries (a link loop?)`);
    if (this.bytes > this.limit) {
      throw new JobFilesError(
        `${this.what} is over the ${formatSize(this.limit)} limit of each entry (as dstack's): put large data on a volume, or leave it out`,
      );
    }
  }
}

/** A local file or folder (links followed, as dstack's upload reads them) as entries at `target`. */
function readEntry(abs: string, target: string, budget: Budget, out: JobFile[]): void {
  let st: Stats;
  try {
    st = statSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new JobFilesError(`${abs}: ${code === 'ENOENT' ? 'no such file or folder' : (err as Error).message}`);
  }
  if (st.isDirectory()) {
    budget.add(0);
    out.push({ path: target, mode: st.mode & 0o7777, dir: true, content: Buffer.alloc(0), linkTarget: '' });
    for (const name of readdirSync(abs).sort()) readEntry(join(abs, name), `${target}/${name}`, budget, out);
    return;
  }
  if (!st.isFile()) throw new JobFilesError(`${abs}: not a regular file or a folder`);
  budget.add(st.size);
  out.push({ path: target, mode: st.mode & 0o7777, dir: false, content: readFileSync(abs), linkTarget: '' });
}

/** The repo a `repos:` entry names, when it is a local folder: its git top folder (or the folder). */
async function localRepoRoot(abs: string): Promise<string> {
  try {
    return (await listRepoFiles(abs, { reuse: true })).root;
  } catch (err) {
    throw new JobFilesError(`${abs}: ${(err as Error).message}`);
  }
}

/** Is `r` the run's own repo at /workflow (which the code upload already puts there)? */
async function isRunRepo(r: RepoSpec, file: ConfigFile, runRepoDir: string): Promise<boolean> {
  if (!r.local_path || r.path !== '.' || !runRepoDir) return false;
  const root = await localRepoRoot(localPath(r.local_path, file.path));
  return realpathOr(root) === realpathOr(runRepoDir);
}

function realpathOr(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/**
 * What `repos:` makes of the run's own code upload: a local folder at `.` becomes the repo uploaded
 * to /workflow (as in dstack, where `repos` names the run's repo), a git URL at `.` means no upload
 * (the agent clones it there).
 */
export async function runRepoSource(
  config: Config,
  file: ConfigFile,
  given: { repoDir: string; noRepo: boolean },
): Promise<{ repoDir: string; noRepo: boolean }> {
  const r = config.repos.find((x) => x.path === '.');
  if (!r) return given;
  if (r.url) return { repoDir: '', noRepo: true };
  const abs = localPath(r.local_path!, file.path);
  try {
    if (!statSync(abs).isDirectory()) throw new Error('not a folder');
  } catch (err) {
    throw new JobFilesError(`${placeOf(file, 'repos', config.repos.indexOf(r))}: repos: ${abs}: ${(err as Error).message}`);
  }
  return { repoDir: abs, noRepo: false };
}

/**
 * JobSpec.files: every `files` entry, and every `repos` local folder that is not the run's own
 * uploaded repo. Throws JobFilesError (`FILE:LINE:COL: ...`) for a missing path or an entry over
 * `limit`.
 */
export async function readJobFiles(config: Config, file: ConfigFile, runRepoDir: string, limit = FILES_ENTRY_LIMIT): Promise<JobFile[]> {
  const out: JobFile[] = [];
  config.files.forEach((m, i) => {
    const abs = localPath(m.local_path, file.path);
    try {
      readEntry(abs, jobPath(m.path), new Budget(m.local_path, limit), out);
    } catch (err) {
      if (!(err instanceof JobFilesError)) throw err;
      throw new JobFilesError(`${placeOf(file, 'files', i)}: files: ${err.message}`);
    }
  });
  for (const [i, r] of config.repos.entries()) {
    if (!r.local_path || (await isRunRepo(r, file, runRepoDir))) continue;
    if (r.path === '.') continue; // the run's code upload (runRepoSource)
    try {
      const listing = await listRepoFiles(localPath(r.local_path, file.path), { reuse: true });
      const budget = new Budget(`repos: ${r.local_path} (${listing.root})`, limit);
      out.push({ path: jobPath(r.path), mode: 0o755, dir: true, content: Buffer.alloc(0), linkTarget: '' });
      for (const f of listing.files) {
        budget.add(f.size);
        const path = jobPath(r.path, f.path);
        if (f.symlinkTarget !== undefined)
          out.push({ path, mode: 0o777, dir: false, content: Buffer.alloc(0), linkTarget: f.symlinkTarget });
        else out.push({ path, mode: f.mode, dir: false, content: readFileSync(f.abs), linkTarget: '' });
      }
    } catch (err) {
      throw new JobFilesError(
        `${placeOf(file, 'repos', i)}: ${err instanceof JobFilesError ? err.message : `repos: ${(err as Error).message}`}`,
      );
    }
  }
  return out;
}

/** The reason a `repos:` URL cannot be cloned by this project, or undefined. */
export function repoUrlRefusal(url: string): string | undefined {
  if (/^(https?|git|file):\/\//.test(url)) return undefined;
  return (
    `${url}: cloning over SSH needs your SSH agent on the instance, which dstack-ts does not forward while it provisions; ` +
    'use the https URL (with `token_env` naming an env entry that holds a token, for a private repo)'
  );
}

/** Refuses, at its FILE:LINE:COL, a `repos:` URL the agent cannot clone. */
export function checkRepoUrls(config: Config, file: ConfigFile): void {
  config.repos.forEach((r, i) => {
    const refusal = r.url ? repoUrlRefusal(r.url) : undefined;
    if (refusal) throw new JobFilesError(`${placeOf(file, 'repos', i)}: repos: ${refusal}`);
  });
}

/** JobSpec.repos: the git URLs, cloned by the agent (dstack: single_branch defaults to false for dev environments). */
export function gitReposFor(config: Config): GitRepo[] {
  return config.repos
    .filter((r) => r.url)
    .map((r) => ({
      url: r.url!,
      branch: r.branch ?? '',
      hash: r.hash ?? '',
      path: jobPath(r.path),
      singleBranch: config.single_branch === true,
      skipIfExists: r.if_exists === 'skip',
      tokenEnv: r.token_env ?? '',
    }));
}

/**
 * GetPlan's and ApplyRun's check, before anything is created: the repo to upload as `repos:` makes
 * it, every URL cloneable, every local path readable and within the limit. BadRequestError otherwise.
 */
export async function checkFilesAndRepos(
  config: Config,
  file: ConfigFile,
  given: { repoDir: string; noRepo: boolean },
): Promise<{ repoDir: string; noRepo: boolean }> {
  try {
    checkRepoUrls(config, file);
    const source = await runRepoSource(config, file, given);
    const runRepo = source.noRepo || !source.repoDir ? '' : await localRepoRoot(source.repoDir);
    await readJobFiles(config, file, runRepo);
    return source;
  } catch (err) {
    if (err instanceof JobFilesError) throw new BadRequestError(err.message);
    throw err;
  }
}
