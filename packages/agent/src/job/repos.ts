// `repos:` git URLs, cloned inside the job as its user (a `git` of the image, through the runtime's
// exec: the job's namespaces and user, so the clone can touch nothing the job could not). A token
// for a private https repo stays in the job's env, under the name `token_env` gives: git gets it
// from a credential helper that prints that variable, so no command line (the agent's, git's, or
// the shell's) ever holds the value. Prompts are off: a clone that needs a password it was not
// given fails instead of waiting.
import type { GitRepo } from '@dstack/core/gen/agent';
import { shellWord } from '@dstack/core/quoting';
import { JobError, type OutputStream, type Runtime, type RuntimeJob } from '../runtime/runtime';
import { targetPath } from './files';

/** The user name git sends with a token (GitHub's; GitLab and Gitea take any name with a token). */
const TOKEN_USER = 'x-access-token';

/** The shell script that clones `r` into `path` (see the header). */
export function cloneScript(r: GitRepo, path: string): string {
  const p = shellWord(path);
  const exists = r.skipIfExists
    ? `echo "repos: ${path.replace(/["`$\\]/g, '')} exists and is not empty: skipped (if_exists: skip)"; exit 0`
    : `echo "repos: ${path.replace(/["`$\\]/g, '')} exists and is not empty (if_exists: error)" >&2; exit 3`;
  const git = ['git'];
  if (r.tokenEnv) {
    // `$NAME` is expanded by the shell git starts for the helper: the value never is an argument.
    git.push('-c', shellWord(`credential.helper=!f() { echo username=${TOKEN_USER}; echo "password=$${r.tokenEnv}"; }; f`));
  }
  const clone = [...git, 'clone'];
  if (r.branch) clone.push('--branch', shellWord(r.branch));
  clone.push(r.singleBranch ? '--single-branch' : '--no-single-branch', '--', shellWord(r.url), p);
  const lines = [
    'set -e',
    'export GIT_TERMINAL_PROMPT=0',
    `if [ -e ${p} ] && [ -n "$(ls -A ${p} 2>/dev/null)" ]; then ${exists}; fi`,
    clone.join(' '),
  ];
  if (r.hash) lines.push(`git -C ${p} -c advice.detachedHead=false checkout --quiet ${shellWord(r.hash)}`);
  return `${lines.join('\n')}\n`;
}

/** Clones each `repos:` URL (see the header); a failed clone fails the job with its exit code. */
export async function cloneRepos(
  runtime: Runtime,
  job: RuntimeJob,
  output: (stream: OutputStream, data: Buffer) => void,
  signal: AbortSignal,
): Promise<void> {
  if (!job.spec.repos?.length) return;
  const { user, workflow } = await runtime.fsRoot(job);
  for (const r of job.spec.repos) {
    // The name goes into the helper's shell text: nothing but a variable name may.
    if (r.tokenEnv && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(r.tokenEnv)) {
      throw new JobError('executor_error', `repos: ${r.url}: token_env ${JSON.stringify(r.tokenEnv)} is not an env variable name`);
    }
    if (r.tokenEnv && !(r.tokenEnv in job.env)) {
      throw new JobError('executor_error', `repos: ${r.url}: the job has no env variable ${r.tokenEnv} (token_env)`);
    }
    const path = targetPath(r.path, user.home, workflow);
    job.note(`repos: cloning ${r.url}${r.branch ? ` (branch ${r.branch})` : ''} into ${path}`);
    const code = await runtime.exec(job, cloneScript(r, path), output, { signal });
    if (signal.aborted) return;
    if (code !== 0) throw new JobError('executor_error', `repos: cloning ${r.url} into ${path} failed with exit code ${code}`, code);
  }
}
