// The grammar of configuration fields that are more than a plain string or enum: env, ports, volumes,
// retry, python, durations. Pure functions that collect problems into Issues (see resources/errors.ts).
import { DurationError, parseDuration, parseIdleDuration, parseOffDuration } from '../duration';
import { RUN_NAME_RE } from '../names';
import { GrammarError, type Issues, asMapping, checkKeys, didYouMean, show, type Path } from '../resources/errors';
import {
  DEFAULT_RETRY_DURATION,
  PYTHON_VERSIONS,
  RETRY_EVENTS,
  type EnvMapping,
  type FilePathMapping,
  type RepoSpec,
  type InstanceMount,
  type PortMapping,
  type PythonVersion,
  type RetryEvent,
  type RetryPolicy,
  type UtilizationPolicy,
  type VolumeMount,
} from './types';

export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ENV_ITEM_RE = /^([A-Za-z_][A-Za-z0-9_]*)(=[\s\S]*)?$/;

/** `env`: a list of `KEY=VALUE` / `KEY`, or a mapping; a KEY without a value maps to null. */
export function parseEnv(v: unknown, issues: Issues, path: Path = []): EnvMapping | undefined {
  const env: EnvMapping = {};
  if (v === undefined || v === null) return env;
  const before = issues.list.length;
  if (Array.isArray(v)) {
    const seenAt = new Map<string, number>();
    v.forEach((item, i) => {
      const m = typeof item === 'string' ? ENV_ITEM_RE.exec(item) : null;
      if (!m) {
        issues.add(
          [...path, i],
          `invalid environment variable ${show(item)}: write NAME=VALUE or NAME (letters, digits, _; not starting with a digit)`,
        );
        return;
      }
      const name = m[1];
      if (seenAt.has(name)) {
        issues.add([...path, i], `duplicate environment variable \`${name}\` (first at item ${seenAt.get(name)! + 1})`);
        return;
      }
      seenAt.set(name, i);
      env[name] = m[2] === undefined ? null : m[2].slice(1);
    });
  } else if (asMapping(v)) {
    for (const [name, value] of Object.entries(v as Record<string, unknown>)) {
      if (!ENV_NAME_RE.test(name)) {
        issues.add(
          [...path, name],
          `invalid environment variable name \`${name}\`: letters, digits and _, not starting with a digit`,
          true,
        );
      } else if (value === null || typeof value === 'string') {
        env[name] = value;
      } else if (typeof value === 'number' || typeof value === 'boolean') {
        env[name] = String(value);
      } else {
        issues.add([...path, name], `environment variable \`${name}\` must be a string, got ${show(value)}`);
      }
    }
  } else {
    issues.add(path, `expected a list of NAME=VALUE or a mapping, got ${show(v)}`);
  }
  return issues.list.length > before ? undefined : env;
}

const PORT_RE = /^(?:(\d+|\*):)?(\d+)$/;

export function parsePorts(v: unknown, issues: Issues, path: Path = []): PortMapping[] | undefined {
  if (!Array.isArray(v)) {
    issues.add(path, `expected a list of ports (8080, "8000:8080" or "*:8080"), got ${show(v)}`);
    return undefined;
  }
  const before = issues.list.length;
  const ports: PortMapping[] = [];
  const containerAt = new Map<number, number>();
  const localAt = new Map<number, number>();
  v.forEach((item, i) => {
    const p = issues.at([...path, i], () => parsePort(item));
    if (!p) return;
    if (containerAt.has(p.container_port)) {
      issues.add(
        [...path, i],
        `port ${show(item)}: container port ${p.container_port} is listed twice (first at item ${containerAt.get(p.container_port)! + 1})`,
      );
      return;
    }
    if (p.local_port !== null && localAt.has(p.local_port)) {
      issues.add(
        [...path, i],
        `port ${show(item)}: local port ${p.local_port} is used twice (first at item ${localAt.get(p.local_port)! + 1})`,
      );
      return;
    }
    containerAt.set(p.container_port, i);
    if (p.local_port !== null) localAt.set(p.local_port, i);
    ports.push(p);
  });
  return issues.list.length > before ? undefined : ports;
}

function parsePort(v: unknown): PortMapping {
  const m = typeof v === 'number' ? [String(v), undefined, String(v)] : typeof v === 'string' ? PORT_RE.exec(v.trim()) : null;
  if (!m) throw new GrammarError(`invalid port ${show(v)}: write PORT, LOCAL:PORT or *:PORT, e.g. 8080 or "8000:8080"`);
  const container = portNumber(m[2]!, v);
  const local = m[1] === undefined ? container : m[1] === '*' ? null : portNumber(m[1], v);
  return { local_port: local, container_port: container };
}

function portNumber(s: string, whole: unknown): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new GrammarError(`invalid port ${show(whole)}: ports are 1 to 65535`);
  return n;
}

/**
 * `volumes`: `name:/path` (a volume), `/instance/path:/path` (a folder of the instance), or objects.
 * As in dstack, a source that looks like a path (has a `/`, or starts with `.` or `~`) is an instance
 * path, and every path must be absolute, without `..`, and is normalized (`/a/./b//` → `/a/b`).
 */
export function parseVolumes(v: unknown, issues: Issues, path: Path = []): (VolumeMount | InstanceMount)[] | undefined {
  if (!Array.isArray(v)) {
    issues.add(path, `expected a list of mounts (NAME:/path or /instance/path:/path), got ${show(v)}`);
    return undefined;
  }
  const before = issues.list.length;
  const out: (VolumeMount | InstanceMount)[] = [];
  v.forEach((item, i) => {
    const at = [...path, i];
    if (typeof item === 'string') {
      const mount = issues.at(at, () => parseMountString(item));
      if (mount) out.push(mount);
      return;
    }
    const o = asMapping(item);
    if (!o) {
      issues.add(at, `expected NAME:/path, /instance/path:/path or a mapping, got ${show(item)}`);
      return;
    }
    const isInstance = 'instance_path' in o;
    checkKeys(o, isInstance ? ['instance_path', 'path', 'optional'] : ['name', 'path'], 'a volume mount', issues, at);
    const target = issues.at([...at, 'path'], () => mountTarget(o.path));
    if (isInstance) {
      const source = issues.at([...at, 'instance_path'], () => mountPath(o.instance_path, 'instance_path'));
      if (o.optional !== undefined && typeof o.optional !== 'boolean')
        issues.add([...at, 'optional'], `expected true or false, got ${show(o.optional)}`);
      if (source && target) out.push({ instance_path: source, path: target, optional: o.optional === true });
    } else {
      const names = typeof o.name === 'string' ? [o.name] : o.name;
      if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== 'string' || n === '')) {
        issues.add([...at, 'name'], `expected a volume name or a list of names, got ${show(o.name)}`);
      } else if (target) {
        out.push({ name: names as string[], path: target });
      }
    }
  });
  // Two mounts at one path: the container could only have one of them.
  const firstAt = new Map<string, number>();
  out.forEach((m, i) => {
    const seen = firstAt.get(m.path);
    if (seen === undefined) firstAt.set(m.path, i);
    else issues.add([...path, i], `path ${show(m.path)} is already mounted by volumes[${seen}]: give each mount its own path`);
  });
  return issues.list.length > before ? undefined : out;
}

/**
 * `files` (dstack's FilePathMapping): `LOCAL` (the same path under the working dir), `LOCAL:PATH`, or
 * `{local_path, path}`. `~` is expanded on the local side only; the job's path has no `..` and no `~`.
 */
export function parseFiles(v: unknown, issues: Issues, path: Path = []): FilePathMapping[] | undefined {
  if (!Array.isArray(v)) {
    issues.add(path, `expected a list of files (LOCAL, LOCAL:PATH or {local_path, path}), got ${show(v)}`);
    return undefined;
  }
  const before = issues.list.length;
  const out: FilePathMapping[] = [];
  v.forEach((item, i) => {
    const at = [...path, i];
    if (typeof item === 'string') {
      const m = issues.at(at, () => parseFileString(item));
      if (m) out.push(m);
      return;
    }
    const o = asMapping(item);
    if (!o) {
      issues.add(at, `expected LOCAL, LOCAL:PATH or a mapping with local_path and path, got ${show(item)}`);
      return;
    }
    checkKeys(o, ['local_path', 'path'], 'a file mapping', issues, at);
    const local = issues.at([...at, 'local_path'], () => localFilePath(o.local_path));
    const target = issues.at([...at, 'path'], () => jobFilePath(o.path === undefined ? o.local_path : o.path));
    if (local && target) out.push({ local_path: local, path: target });
  });
  return issues.list.length > before ? undefined : out;
}

function parseFileString(s: string): FilePathMapping {
  // dstack reads `C:\\dir` as a Windows path; dstack-ts runs where paths are Unix ones.
  if (/^[A-Za-z]:[\\/]/.test(s))
    throw new GrammarError(`invalid file mapping ${show(s)}: Windows paths are not supported; write Unix paths`);
  const parts = s.split(':');
  if (parts.length > 2) throw new GrammarError(`invalid file mapping ${show(s)}: write LOCAL or LOCAL:PATH`);
  const local = localFilePath(parts[0]);
  return { local_path: local, path: jobFilePath(parts.length === 2 ? parts[1] : local) };
}

function localFilePath(v: unknown): string {
  if (typeof v !== 'string' || v === '') throw new GrammarError(`invalid local_path ${show(v)}: expected a file or folder path`);
  return v;
}

/**
 * The job's side: absolute, `~` or `~/...` (the job user's home, which the agent finds in the
 * container), or relative to /workflow; no `..`, no `~user`.
 */
function jobFilePath(v: unknown): string {
  if (typeof v !== 'string' || v === '') throw new GrammarError(`invalid path ${show(v)}: expected a path in the job`);
  if (v.startsWith('~') && v !== '~' && !v.startsWith('~/'))
    throw new GrammarError(`invalid path ${show(v)}: \`~user\` is not supported; write ~/... (the job user's home) or the path in full`);
  if (v.split('/').includes('..')) throw new GrammarError(`invalid path ${show(v)}: \`..\` is not allowed`);
  const norm = v
    .split('/')
    .filter((p, i) => (p !== '' || i === 0) && p !== '.')
    .join('/');
  if (norm === '' || norm === '/') throw new GrammarError(`invalid path ${show(v)}: name a file or folder`);
  return norm;
}

/**
 * `repos` (dstack's RepoSpec): `LOCAL`, `LOCAL:PATH`, `URL`, `URL:PATH` (a URL is `scheme://...` or
 * `user@host:...`), or `{local_path | url, branch, hash, path, if_exists}`, plus `token_env` (beyond
 * dstack: the env variable holding an https token for the clone). At most one repo, as in dstack.
 */
export function parseRepos(v: unknown, issues: Issues, path: Path = []): RepoSpec[] | undefined {
  if (!Array.isArray(v)) {
    issues.add(path, `expected a list of repos (a local folder or a git URL, with :PATH), got ${show(v)}`);
    return undefined;
  }
  const before = issues.list.length;
  if (v.length > 1) issues.add([...path, 1], 'a maximum of one repo is supported (as in dstack)');
  const out: RepoSpec[] = [];
  v.forEach((item, i) => {
    const at = [...path, i];
    if (typeof item === 'string') {
      const r = issues.at(at, () => parseRepoString(item));
      if (r) out.push(r);
      return;
    }
    const o = asMapping(item);
    if (!o) {
      issues.add(at, `expected LOCAL, URL, LOCAL:PATH, URL:PATH or a mapping with local_path or url, got ${show(item)}`);
      return;
    }
    checkKeys(o, ['local_path', 'url', 'branch', 'hash', 'path', 'if_exists', 'token_env'], 'a repo', issues, at);
    const text = (key: string): string | null => {
      const x = o[key];
      if (x === undefined || x === null) return null;
      if (typeof x !== 'string' || x === '') {
        issues.add([...at, key], `invalid ${key} ${show(x)}: expected a non-empty string`);
        return null;
      }
      return x;
    };
    const local = text('local_path');
    const url = text('url');
    if (local && url) issues.add(at, '`local_path` and `url` are mutually exclusive');
    else if (!local && !url && o.local_path == null && o.url == null) issues.add(at, 'either `local_path` or `url` must be specified');
    if (url) issues.at([...at, 'url'], () => checkRepoUrl(url));
    const ifExists = o.if_exists ?? 'error';
    if (ifExists !== 'error' && ifExists !== 'skip') issues.add([...at, 'if_exists'], `invalid if_exists ${show(ifExists)}: error or skip`);
    const tokenEnv = text('token_env');
    if (tokenEnv && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(tokenEnv))
      issues.add([...at, 'token_env'], `invalid token_env ${show(tokenEnv)}: the name of an env variable`);
    if (tokenEnv && local) issues.add([...at, 'token_env'], '`token_env` is for a git URL, not a local folder');
    const target = o.path === undefined || o.path === null ? '.' : issues.at([...at, 'path'], () => repoPath(o.path));
    if (target === undefined) return;
    out.push({
      local_path: local,
      url,
      branch: text('branch'),
      hash: text('hash'),
      path: target,
      if_exists: ifExists === 'skip' ? 'skip' : 'error',
      token_env: tokenEnv,
    });
  });
  return issues.list.length > before ? undefined : out;
}

function parseRepoString(s: string): RepoSpec {
  let parts = s.split(':');
  let isUrl = false;
  // dstack's rule: `git@host:org/repo.git` and `https://...` are URLs; what follows the next `:` is the path.
  if (parts.length > 1 && (parts[0].includes('@') || parts[1].startsWith('//'))) {
    parts = [`${parts[0]}:${parts[1]}`, ...parts.slice(2)];
    isUrl = true;
  }
  if (parts.length > 2 || parts.some((p) => p === ''))
    throw new GrammarError(`invalid repo ${show(s)}: write LOCAL, URL, LOCAL:PATH or URL:PATH`);
  if (isUrl) checkRepoUrl(parts[0]);
  const target = parts.length === 2 ? repoPath(parts[1]) : '.';
  const base = { branch: null, hash: null, path: target, if_exists: 'error' as const, token_env: null };
  return isUrl ? { local_path: null, url: parts[0], ...base } : { local_path: parts[0], url: null, ...base };
}

function checkRepoUrl(url: string): void {
  if (/^(https?|ssh|git|file):\/\//.test(url) || /^[^/:]+@[^/:]+:/.test(url)) return;
  throw new GrammarError(`invalid url ${show(url)}: expected https://..., ssh://... or user@host:path`);
}

/** Where a repo goes in the job: `.` (the working dir), or a path as for `files`. */
function repoPath(v: unknown): string {
  if (v === '.' || v === './') return '.';
  return jobFilePath(v);
}

function parseMountString(s: string): VolumeMount | InstanceMount {
  const parts = s.split(':');
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new GrammarError(`invalid mount point format ${show(s)}: write NAME:/path (a volume) or /instance/path:/path`);
  }
  const target = mountTarget(parts[1]);
  if (/^[.~]|\//.test(parts[0])) return { instance_path: mountPath(parts[0], 'instance_path'), path: target, optional: false };
  return { name: [parts[0]], path: target };
}

/**
 * Where a mount goes in the container: a mount path that is not `/` and leaves `/workflow` (the run's
 * code, bind-mounted there by the agent) alone.
 */
function mountTarget(v: unknown): string {
  const target = mountPath(v);
  if (target === '/') throw new GrammarError(`invalid path ${show(v)}: a volume cannot be mounted over the container's root`);
  if (target === '/workflow' || target.startsWith('/workflow/'))
    throw new GrammarError(`invalid path ${show(v)}: /workflow holds the run's code (the repo); mount the volume elsewhere`);
  return target;
}

/** An absolute path without `..`, normalized: `/a/./b//c/` → `/a/b/c`. */
function mountPath(v: unknown, what = 'path'): string {
  if (typeof v !== 'string') throw new GrammarError(`invalid ${what} ${show(v)}: expected an absolute path`);
  if (v === '') throw new GrammarError(`invalid ${what} "": empty path`);
  if (!v.startsWith('/')) throw new GrammarError(`invalid ${what} ${show(v)}: path must be absolute`);
  const segments = v.split('/').filter((seg) => seg !== '' && seg !== '.');
  if (segments.includes('..')) throw new GrammarError(`invalid ${what} ${show(v)}: \`..\` segments are not allowed`);
  return `/${segments.join('/')}`;
}

/**
 * `user`: `USER` or `USER:GROUP`, each a name or a numeric id (dstack's UnixUser). What is wrong with
 * it, or undefined when nothing is.
 */
export function unixUserProblem(v: string | number): string | undefined {
  const s = String(v);
  const bad = (why: string) => `invalid user ${show(typeof v === 'number' ? v : s)}: ${why}; write USER or USER:GROUP (names or ids)`;
  const parts = s.split(':');
  if (parts.length > 2) return bad('too many parts');
  const [user, group] = parts;
  if (user === '') return bad('empty user name or id');
  if (/^-\d+$/.test(user)) return bad('negative uid');
  if (group !== undefined && group === '') return bad('empty group name or id');
  if (group !== undefined && /^-\d+$/.test(group)) return bad('negative gid');
  if (/\s/.test(s)) return bad('a name cannot have whitespace');
  return undefined;
}

/**
 * A `fleets:` entry: a fleet name (dstack's resource names: 2 to 41 lowercase letters, digits and
 * dashes, starting with a letter). dstack also takes PROJECT/NAME; dstack-ts has one project.
 */
export function fleetReferenceProblem(ref: string): string | undefined {
  const parts = ref.split('/');
  if (parts.length > 2 || parts.some((p) => p === '')) return `invalid fleet reference ${show(ref)}: write the fleet's name`;
  if (parts.length === 2)
    return `invalid fleet reference ${show(ref)}: dstack-ts has one project, write the fleet's name alone (${show(parts[1])})`;
  if (!RUN_NAME_RE.test(ref))
    return `invalid fleet name ${show(ref)}: fleet names are 2 to 41 lowercase letters, digits and dashes, starting with a letter`;
  return undefined;
}

/** `retry`: true (all events, 1h), false (none), or {on_events, duration}. */
export function parseRetry(v: unknown, issues: Issues, path: Path = []): RetryPolicy | null | undefined {
  if (v === undefined || v === null || v === false) return null;
  if (v === true) return { on_events: [...RETRY_EVENTS], duration: DEFAULT_RETRY_DURATION };
  const o = asMapping(v);
  if (!o) {
    issues.add(path, `expected true, false or a mapping {on_events, duration}, got ${show(v)}`);
    return undefined;
  }
  const before = issues.list.length;
  checkKeys(o, ['on_events', 'duration'], 'retry', issues, path);
  let on_events: RetryEvent[] = [...RETRY_EVENTS];
  if (o.on_events !== undefined && o.on_events !== null) {
    if (!Array.isArray(o.on_events)) {
      issues.add([...path, 'on_events'], `expected a list of ${RETRY_EVENTS.join(', ')}, got ${show(o.on_events)}`);
    } else if (o.on_events.length === 0) {
      issues.add([...path, 'on_events'], `\`on_events\` cannot be empty: list some of ${RETRY_EVENTS.join(', ')}, or set \`retry: false\``);
    } else {
      on_events = [];
      o.on_events.forEach((e, i) => {
        if (typeof e === 'string' && (RETRY_EVENTS as readonly string[]).includes(e)) {
          if (!on_events.includes(e as RetryEvent)) on_events.push(e as RetryEvent);
        } else {
          issues.add([...path, 'on_events', i], oneOfMessage('retry event', e, RETRY_EVENTS));
        }
      });
    }
  }
  const duration =
    o.duration === undefined || o.duration === null
      ? DEFAULT_RETRY_DURATION
      : issues.at([...path, 'duration'], () => duration_(o.duration));
  return issues.list.length > before || duration === undefined ? undefined : { on_events, duration };
}

/** dstack's shortest `utilization_policy.time_window` (UtilizationPolicy's `_min_time_window`, 5m), in seconds. */
export const MIN_UTILIZATION_TIME_WINDOW = 300;

/**
 * `utilization_policy`, as dstack's UtilizationPolicy: `min_gpu_utilization` (a whole percent, 0 to
 * 100) and `time_window` (a duration of at least 5m), both required.
 */
export function parseUtilizationPolicy(v: unknown, issues: Issues, path: Path = []): UtilizationPolicy | undefined {
  const o = asMapping(v);
  if (!o) {
    issues.add(path, `expected a mapping {min_gpu_utilization, time_window}, got ${show(v)}`);
    return undefined;
  }
  const before = issues.list.length;
  checkKeys(o, ['min_gpu_utilization', 'time_window'], 'utilization_policy', issues, path);
  const min = o.min_gpu_utilization;
  if (min === undefined || min === null) issues.add(path, 'missing required key `min_gpu_utilization` (a percent, 0 to 100)');
  else if (typeof min !== 'number' || !Number.isInteger(min) || min < 0 || min > 100)
    issues.add([...path, 'min_gpu_utilization'], `invalid min_gpu_utilization ${show(min)}: use a whole percent from 0 to 100`);
  let window: number | undefined;
  if (o.time_window === undefined || o.time_window === null)
    issues.add(path, 'missing required key `time_window` (a duration of at least 5m, e.g. 30m)');
  else
    window = issues.at([...path, 'time_window'], () => {
      const s = duration_(o.time_window);
      if (s < MIN_UTILIZATION_TIME_WINDOW) throw new GrammarError(`time_window ${show(o.time_window)} is too short: the minimum is 5m`);
      return s;
    });
  if (issues.list.length > before || window === undefined) return undefined;
  return { min_gpu_utilization: min as number, time_window: window };
}

/** `python`: "3.9" … "3.14"; a YAML float 3.10 (read as 3.1) means "3.10". */
export function parsePython(v: unknown): PythonVersion {
  let s = typeof v === 'number' ? String(v) : v;
  if (s === '3.1') s = '3.10';
  if (typeof s === 'string' && (PYTHON_VERSIONS as readonly string[]).includes(s)) return s as PythonVersion;
  throw new GrammarError(`${oneOfMessage('python version', v, PYTHON_VERSIONS)} (quote it: "3.12")`);
}

export type DurationKind = 'plain' | 'off' | 'idle';

/** Seconds; for 'off' fields `off`/`false` → null (unlimited); for `idle_duration` `off` → -1. */
export function parseDurationField(v: unknown, kind: DurationKind): number | null {
  try {
    if (kind === 'plain') return parseDuration(v);
    if (kind === 'idle') return parseIdleDuration(v);
    const d = parseOffDuration(v);
    return d === 'off' ? null : d;
  } catch (err) {
    if (err instanceof DurationError) {
      const off = kind === 'plain' ? '' : ', or off';
      throw new GrammarError(`${err.message.replace(/: use .*$/, '')}: use seconds or <n><s|m|h|d|w> (e.g. 90m, 2h, 1d)${off}`);
    }
    throw err;
  }
}

function duration_(v: unknown): number {
  return parseDurationField(v, 'plain') as number;
}

/** "invalid X "foo": use one of a, b, c (did you mean `a`?)". */
export function oneOfMessage(what: string, v: unknown, allowed: readonly string[]): string {
  const guess = typeof v === 'string' ? didYouMean(v, allowed) : null;
  return `invalid ${what} ${show(v)}: use one of ${allowed.join(', ')}${guess ? ` (did you mean \`${guess}\`?)` : ''}`;
}
