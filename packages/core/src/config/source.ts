// What the command line adds to a configuration file: flag overrides (--gpu, --cpu, --memory, --disk,
// --max-price, the spot policy) and env values (-e, --env-file, the caller's environment). The CLI
// checks the flags with parseOverrides before it asks the daemon anything (a bad flag is a usage
// error); the daemon applies both to the configuration it parsed. Light: no zod, no yaml.
import { Issues } from '../resources/errors';
import { parseCpu } from '../resources/cpu';
import { parseDisk } from '../resources/disk';
import { parseGpu } from '../resources/gpu';
import { parseMemoryRange } from '../resources/memory';
import type { ResourcesSpec } from '../resources/types';
import type { EnvMapping, SpotPolicy } from './types';

/**
 * The first line of an INVALID_ARGUMENT answer that carries a file's problems, one
 * `FILE:LINE:COL: message` line each after it: the CLI prints those lines as they are.
 */
export const CONFIGURATION_ERRORS_HEADER = 'the configuration has errors:';

/** The flags as typed; undefined: not given. */
interface OverrideValues {
  gpu?: string;
  cpu?: string;
  memory?: string;
  disk?: string;
  maxPrice?: string;
  spotPolicy?: string;
}

/** A bad flag value: the message names the flag and what it was given. */
export class OverrideError extends Error {
  override name = 'OverrideError';
}

/** The part of a configuration the flags change. */
export interface Overridable {
  resources: ResourcesSpec;
  spot_policy: SpotPolicy;
  max_price: number | null;
}

type Parsed = Partial<Pick<ResourcesSpec, 'gpu' | 'cpu' | 'memory' | 'disk'>> & { max_price?: number; spot_policy?: SpotPolicy };

const SPOT_POLICIES: readonly string[] = ['spot', 'on-demand', 'auto'];

/** Every flag read with the file's grammar (all or nothing); throws OverrideError naming the flag. */
export function parseOverrides(o: OverrideValues): Parsed {
  const issues = new Issues();
  const out: Parsed = {};
  const one = <V>(flag: string, value: string | undefined, parse: (v: string) => V | undefined, set: (v: V) => void) => {
    if (value === undefined) return;
    const before = issues.list.length;
    const parsed = parse(value);
    if (issues.list.length > before || parsed === undefined) {
      const msg =
        issues.list
          .slice(before)
          .map((i) => i.message)
          .join('; ') || 'invalid value';
      throw new OverrideError(`${flag} ${JSON.stringify(value)}: ${msg}`);
    }
    set(parsed);
  };
  one(
    '--gpu',
    o.gpu,
    (v) => parseGpu(v, issues),
    (v) => (out.gpu = v),
  );
  one(
    '--cpu',
    o.cpu,
    (v) => parseCpu(v, issues),
    (v) => (out.cpu = v),
  );
  one(
    '--memory',
    o.memory,
    (v) => issues.at([], () => parseMemoryRange(v)),
    (v) => (out.memory = v),
  );
  one(
    '--disk',
    o.disk,
    (v) => parseDisk(v, issues),
    (v) => (out.disk = v),
  );
  if (o.maxPrice !== undefined) {
    const n = Number(o.maxPrice);
    if (!/^\s*\d*\.?\d+\s*$/.test(o.maxPrice) || !(n > 0)) {
      throw new OverrideError(`--max-price ${JSON.stringify(o.maxPrice)}: expected dollars per hour, a number greater than 0 (e.g. 0.5)`);
    }
    out.max_price = n;
  }
  if (o.spotPolicy !== undefined) {
    if (!SPOT_POLICIES.includes(o.spotPolicy))
      throw new OverrideError(`spot policy ${JSON.stringify(o.spotPolicy)}: use spot, on-demand or auto`);
    out.spot_policy = o.spotPolicy as SpotPolicy;
  }
  return out;
}

/** A copy of `config` with the flags applied. */
export function applyOverrides<T extends Overridable>(config: T, o: OverrideValues): T {
  const p = parseOverrides(o);
  const out = structuredClone(config);
  const { max_price, spot_policy, ...resources } = p;
  Object.assign(out.resources, resources);
  if (max_price !== undefined) out.max_price = max_price;
  if (spot_policy !== undefined) out.spot_policy = spot_policy;
  return out;
}

/** One `-e` or `--env-file` entry; value null or undefined: take it from the caller's environment. */
interface EnvEntryValue {
  name: string;
  value?: string | null;
  /** Not typed on the command line: sealed and masked (shell values, env files). */
  secret: boolean;
}

/** No value anywhere for some env names: the message lists them and says where to set them. */
export class EnvValueError extends Error {
  override name = 'EnvValueError';
}

interface ResolvedEnv {
  /** The configuration's env: plain values set, null where the value is a secret. */
  env: EnvMapping;
  /** The secrets' values: entries listed without one, and every value not typed on the command line. */
  secretEnv: Record<string, string>;
}

/**
 * The file's env with the entries on top (later ones win) and the values of entries listed without
 * one taken from the entries or the caller's environment. Throws EnvValueError naming every name
 * with no value. Reads only the names the file and the entries mention from `callerEnv`.
 */
export function resolveEnv(
  fileEnv: EnvMapping,
  entries: readonly EnvEntryValue[],
  callerEnv: Record<string, string | undefined>,
): ResolvedEnv {
  const env: EnvMapping = { ...fileEnv };
  const secretEnv: Record<string, string> = {};
  const missing: string[] = [];
  const given = new Map<string, { value: string | undefined; secret: boolean }>();
  for (const f of entries) given.set(f.name, { value: f.value ?? callerEnv[f.name], secret: f.secret });
  for (const [name, { value, secret }] of given) {
    if (value === undefined) {
      missing.push(name);
      continue;
    }
    if (secret || (name in fileEnv && fileEnv[name] === null)) {
      env[name] = null;
      secretEnv[name] = value;
    } else env[name] = value;
  }
  for (const [name, value] of Object.entries(fileEnv)) {
    if (value !== null || given.has(name)) continue;
    const fromShell = callerEnv[name];
    if (fromShell === undefined) missing.push(name);
    else secretEnv[name] = fromShell;
  }
  if (missing.length) {
    const list = [...new Set(missing)].join(', ');
    const them = missing.length > 1 ? 'them' : 'it';
    throw new EnvValueError(
      `no value for env ${list}: set ${them} in your environment or an --env-file (or pass -e NAME=VALUE, which ps shows)`,
    );
  }
  return { env, secretEnv };
}
