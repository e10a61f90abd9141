// $DSTACK_HOME/config.yml: the daemon's own settings. Every problem is reported as one line naming
// file:line:col, and the daemon refuses to start on a bad file rather than guess.
import { existsSync, readFileSync } from 'node:fs';
import { LineCounter, isMap, isScalar, parseDocument, type Node } from 'yaml';
import { parseDuration } from '@dstack/core/duration';
import { SSH_SERVER_LIMIT_KEYS, type SshServerLimits } from '@dstack/core/ssh-server-limits';
import { DEFAULT_LOG_ROTATION, type LogRotation } from '@dstack/core/log-file';
import { parseBackends, type BackendEntry } from './backends/entries';

export interface DaemonConfig {
  /** Replaces dstack's base image (for every python version, with or without nvcc). */
  baseImage: string | null;
  /** The image of `docker: true` runs (dstack's DinD image unless dind_image says otherwise). */
  dindImage: string;
  /** Largest repo (bytes) apply uploads; default 1 GiB. */
  repoSizeLimit: number;
  /** Write debug lines to daemon.log. */
  debug: boolean;
  /**
   * How long an instance's agent may be silent (host down, link cut) before its run ends with
   * instance_unreachable (or is resubmitted by its retry policy); default 3 minutes.
   */
  instanceUnreachableAfterMs: number;
  /** The limits of every new job's SSH server that `ssh_server:` sets; the rest are the agent's defaults. */
  sshServer: Partial<SshServerLimits>;
  /** daemon.log is rotated before it grows past `maxBytes` (log_size_limit); `keep` rotated files are kept (log_keep). */
  logRotation: LogRotation;
  /** GPU clouds (`backends:`), each with its own key. */
  backends: BackendEntry[];
  /** How long a new cloud instance may take to answer SSH before it is terminated (cloud_boot_timeout). */
  cloudBootTimeoutMs: number;
}

export const DEFAULT_REPO_SIZE_LIMIT = 1024 ** 3;

/** dstack's Docker-in-Docker image (its DSTACK_DIND_IMAGE default). */
export const DEFAULT_DIND_IMAGE = 'dstackai/dind';

export const DEFAULT_UNREACHABLE_AFTER_MS = 3 * 60_000;

export const DEFAULT_CONFIG: DaemonConfig = {
  baseImage: null,
  dindImage: DEFAULT_DIND_IMAGE,
  repoSizeLimit: DEFAULT_REPO_SIZE_LIMIT,
  debug: false,
  instanceUnreachableAfterMs: DEFAULT_UNREACHABLE_AFTER_MS,
  sshServer: {},
  logRotation: DEFAULT_LOG_ROTATION,
  backends: [],
  cloudBootTimeoutMs: 10 * 60_000,
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };

/** Bytes of `512MB`, `1GB`, `1.5GB`, `1024` (bytes); KB/MB/GB are powers of 1024, as dstack counts. */
export function parseSize(v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return Math.floor(v);
  if (typeof v === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*$/i.exec(v);
    if (m) {
      const unit = (m[2] ?? '').toLowerCase().replace('ib', 'b');
      return Math.floor(Number(m[1]) * SIZE_UNITS[unit]);
    }
  }
  throw new Error(`expected a size like 500MB or 1GB, got ${JSON.stringify(v)}`);
}

export function loadConfig(file: string): DaemonConfig {
  if (!existsSync(file)) return { ...DEFAULT_CONFIG };
  return parseConfig(file, readFileSync(file, 'utf8'));
}

export function parseConfig(file: string, text: string): DaemonConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const at = (node: Node | null | undefined, fallback = 0) => {
    const off = node?.range?.[0] ?? fallback;
    const p = lc.linePos(off);
    return `${file}:${p.line}:${p.col}`;
  };
  if (doc.errors.length) {
    const e = doc.errors[0];
    const p = lc.linePos(e.pos[0]);
    throw new ConfigError(`${file}:${p.line}:${p.col}: ${e.message.split('\n')[0]}`);
  }
  const cfg: DaemonConfig = { ...DEFAULT_CONFIG, sshServer: {} };
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return cfg;
  if (!isMap(doc.contents)) throw new ConfigError(`${at(doc.contents)}: expected a mapping of settings`);
  for (const pair of doc.contents.items) {
    const keyNode = pair.key as Node;
    const key = isScalar(keyNode) ? String(keyNode.value) : '';
    const valueNode = pair.value as Node | null;
    const value = isScalar(valueNode) ? valueNode.value : valueNode;
    const where = at(valueNode ?? keyNode);
    /** The value parsed by `parse`, its error said as `file:line:col: key: ...`. */
    const parsed = <T>(parse: (v: unknown) => T): T => {
      try {
        return parse(value);
      } catch (err) {
        throw new ConfigError(`${where}: ${key}: ${(err as Error).message}`);
      }
    };
    switch (key) {
      case 'base_image':
        if (typeof value !== 'string' || !value.trim()) throw new ConfigError(`${where}: base_image: expected an image name`);
        cfg.baseImage = value.trim();
        break;
      case 'dind_image':
        if (typeof value !== 'string' || !value.trim()) throw new ConfigError(`${where}: dind_image: expected an image name`);
        cfg.dindImage = value.trim();
        break;
      case 'repo_size_limit':
        cfg.repoSizeLimit = parsed(parseSize);
        break;
      case 'debug':
        if (typeof value !== 'boolean') throw new ConfigError(`${where}: debug: expected true or false`);
        cfg.debug = value;
        break;
      case 'instance_unreachable_after': {
        const seconds = parsed(parseDuration);
        if (seconds < 1) throw new ConfigError(`${where}: instance_unreachable_after: must be at least 1s`);
        cfg.instanceUnreachableAfterMs = seconds * 1000;
        break;
      }
      case 'ssh_server':
        cfg.sshServer = parseSshServer(valueNode, at);
        break;
      case 'log_size_limit': {
        const maxBytes = parsed(parseSize);
        if (maxBytes < 64 * 1024) throw new ConfigError(`${where}: log_size_limit: must be at least 64KB`);
        cfg.logRotation = { ...cfg.logRotation, maxBytes };
        break;
      }
      case 'log_keep':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 100) {
          throw new ConfigError(`${where}: log_keep: expected how many rotated logs to keep, 0 to 100 (got ${JSON.stringify(value)})`);
        }
        cfg.logRotation = { ...cfg.logRotation, keep: value };
        break;
      case 'cloud_boot_timeout': {
        const seconds = parsed(parseDuration);
        if (seconds < 5) throw new ConfigError(`${where}: cloud_boot_timeout: must be at least 5s, got ${JSON.stringify(value)}`);
        cfg.cloudBootTimeoutMs = seconds * 1000;
        break;
      }
      case 'backends':
        cfg.backends = parseBackends(valueNode, at, (m) => {
          throw new ConfigError(m);
        });
        break;
      default:
        throw new ConfigError(
          `${at(keyNode)}: unknown setting ${JSON.stringify(key)} (known: base_image, dind_image, repo_size_limit, debug, instance_unreachable_after, ssh_server, log_size_limit, log_keep, backends, cloud_boot_timeout)`,
        );
    }
  }
  return cfg;
}

/** Longest login_grace_time: a day (past that, a timer would overflow long before it mattered). */
const MAX_LOGIN_GRACE_SECONDS = 86_400;
const MAX_SSH_COUNT = 65_535;

/** A value for an error line: a scalar quoted, a mapping or list named. */
function shown(value: unknown): string {
  if (isMap(value)) return 'a mapping';
  return value !== null && typeof value === 'object' ? 'a list' : JSON.stringify(value);
}

/** `ssh_server:`, a mapping of sshd-like limits, each one optional. */
function parseSshServer(node: Node | null, at: (node: Node | null | undefined) => string): Partial<SshServerLimits> {
  const known = Object.values(SSH_SERVER_LIMIT_KEYS).join(', ');
  if (!isMap(node)) throw new ConfigError(`${at(node)}: ssh_server: expected a mapping of limits (${known})`);
  const fields = Object.fromEntries(Object.entries(SSH_SERVER_LIMIT_KEYS).map(([field, key]) => [key, field as keyof SshServerLimits]));
  const out: Partial<SshServerLimits> = {};
  for (const pair of node.items) {
    const keyNode = pair.key as Node;
    const key = isScalar(keyNode) ? String(keyNode.value) : '';
    const valueNode = pair.value as Node | null;
    const value = isScalar(valueNode) ? valueNode.value : valueNode;
    const where = `${at(valueNode ?? keyNode)}: ssh_server.${key}`;
    const field = Object.hasOwn(fields, key) ? fields[key] : undefined;
    if (!field) throw new ConfigError(`${at(keyNode)}: unknown setting ${JSON.stringify(`ssh_server.${key}`)} (known: ${known})`);
    if (field === 'loginGraceTimeSeconds') {
      let seconds: number;
      try {
        seconds = parseDuration(value);
      } catch (err) {
        throw new ConfigError(`${where}: ${(err as Error).message}`);
      }
      if (seconds < 1 || seconds > MAX_LOGIN_GRACE_SECONDS) throw new ConfigError(`${where}: must be from 1s to 1d, got ${shown(value)}`);
      out[field] = seconds;
    } else {
      const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_SSH_COUNT) {
        throw new ConfigError(`${where}: expected a whole number from 1 to ${MAX_SSH_COUNT}, got ${shown(value)}`);
      }
      out[field] = n;
    }
  }
  return out;
}
