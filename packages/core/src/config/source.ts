// What the command line adds to a configuration file: flag overrides (--gpu, --cpu, --memory, --disk,
// --max-price, the spot policy, -n, -b, -r, --fleet, --instance-type, the retry, duration and reuse
// flags) and env values (-e, --env-file, the caller's environment). The CLI checks the flags with
// parseOverrides before it asks the daemon anything (a bad flag is a usage error); the daemon applies
// both to the configuration it parsed. Light: no zod, no yaml.
import { controlCharIn } from '../quoting';
import { RUN_NAME_RE } from '../names';
import { didYouMean, Issues } from '../resources/errors';
import { parseCpu } from '../resources/cpu';
import { parseDisk } from '../resources/disk';
import { parseGpu } from '../resources/gpu';
import { parseMemoryRange } from '../resources/memory';
import type { ResourcesSpec } from '../resources/types';
import { fleetReferenceProblem, parseDurationField } from './grammar';
import {
  BACKENDS,
  CREATION_POLICIES,
  DEFAULT_RETRY_DURATION,
  RETRY_EVENTS,
  type CreationPolicy,
  type DevEnvironmentConfiguration,
  type EnvMapping,
  type SpotPolicy,
} from './types';

/**
 * The first line of an INVALID_ARGUMENT answer that carries a file's problems, one
 * `FILE:LINE:COL: message` line each after it: the CLI prints those lines as they are.
 */
export const CONFIGURATION_ERRORS_HEADER = 'the configuration has errors:';

/** The flags as typed; undefined: not given. */
export interface OverrideValues {
  gpu?: string;
  cpu?: string;
  memory?: string;
  disk?: string;
  maxPrice?: string;
  spotPolicy?: string;
  /** -n, --name */
  name?: string;
  /** -b, --backend (repeatable) */
  backends?: string[];
  /** -r, --region (repeatable) */
  regions?: string[];
  /** --instance-type (repeatable) */
  instanceTypes?: string[];
  /** --fleet (repeatable) */
  fleets?: string[];
  /** --retry: true; --no-retry: false. */
  retry?: boolean;
  retryDuration?: string;
  maxDuration?: string;
  idleDuration?: string;
  /** --reuse: `reuse`. */
  creationPolicy?: string;
}

/** A bad flag value: the message names the flag and what it was given. */
export class OverrideError extends Error {
  override name = 'OverrideError';
}

type Backend = (typeof BACKENDS)[number];

/** The part of a configuration the flags change (all of it in a dev environment; tests pass less). */
export type Overridable = Pick<DevEnvironmentConfiguration, 'resources' | 'spot_policy' | 'max_price'> &
  Partial<
    Pick<
      DevEnvironmentConfiguration,
      'name' | 'backends' | 'regions' | 'instance_types' | 'fleets' | 'retry' | 'max_duration' | 'idle_duration' | 'creation_policy'
    >
  >;

type Parsed = Partial<Pick<ResourcesSpec, 'gpu' | 'cpu' | 'memory' | 'disk'>> & {
  max_price?: number;
  spot_policy?: SpotPolicy;
  name?: string;
  backends?: Backend[];
  regions?: string[];
  instance_types?: string[];
  fleets?: string[];
  retry?: boolean;
  retry_duration?: number;
  /** null: off (no limit). */
  max_duration?: number | null;
  /** -1: off (kept forever); null: the default. */
  idle_duration?: number | null;
  creation_policy?: CreationPolicy;
};

const SPOT_POLICIES: readonly string[] = ['spot', 'on-demand', 'auto'];

/** A name typed for a list flag (a backend, a region...): one line of text. */
function nameProblem(v: string): string | undefined {
  if (!v.trim()) return 'expected a name, got nothing';
  const control = controlCharIn(v);
  return control ? `has a control character (${control})` : undefined;
}

/** Every flag read with the file's grammar (all or nothing); throws OverrideError naming the flag. */
export function parseOverrides(o: OverrideValues): Parsed {
  const issues = new Issues();
  const out: Parsed = {};
  const fail = (flag: string, value: string, msg: string): never => {
    throw new OverrideError(`${flag} ${JSON.stringify(value)}: ${msg}`);
  };
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
      fail(flag, value, msg);
    }
    set(parsed as V);
  };
  /** A repeatable flag: each value checked; `problem` says what is wrong with one. */
  const list = (flag: string, values: string[] | undefined, problem: (v: string) => string | undefined): string[] | undefined => {
    if (values === undefined) return undefined;
    if (!values.length) fail(flag, '', 'expected a name, got nothing');
    for (const v of values) {
      const p = nameProblem(v) ?? problem(v);
      if (p) fail(flag, v, p);
    }
    return [...new Set(values)];
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
      fail('--max-price', o.maxPrice, 'expected dollars per hour, a number greater than 0 (e.g. 0.5)');
    }
    out.max_price = n;
  }
  if (o.spotPolicy !== undefined) {
    if (!SPOT_POLICIES.includes(o.spotPolicy)) fail('--spot-policy', o.spotPolicy, 'use spot, on-demand or auto');
    out.spot_policy = o.spotPolicy as SpotPolicy;
  }
  if (o.name !== undefined) {
    if (!RUN_NAME_RE.test(o.name)) fail('--name', o.name, 'use 2 to 41 lowercase letters, digits and dashes, starting with a letter');
    out.name = o.name;
  }
  out.backends = list('--backend', o.backends, (v) => {
    if ((BACKENDS as readonly string[]).includes(v)) return undefined;
    const guess = didYouMean(v, BACKENDS);
    return `not a backend: use one of ${BACKENDS.join(', ')}${guess ? ` (did you mean \`${guess}\`?)` : ''}`;
  }) as Backend[] | undefined;
  out.regions = list('--region', o.regions, () => undefined);
  out.instance_types = list('--instance-type', o.instanceTypes, () => undefined);
  out.fleets = list('--fleet', o.fleets, fleetReferenceProblem);
  if (o.retry === false && o.retryDuration !== undefined) {
    throw new OverrideError('--no-retry and --retry-duration exclude each other: give one');
  }
  if (o.retry !== undefined) out.retry = o.retry;
  one(
    '--retry-duration',
    o.retryDuration,
    (v) => issues.at([], () => parseDurationField(v, 'plain') as number),
    (v) => (out.retry_duration = v),
  );
  one(
    '--max-duration',
    o.maxDuration,
    // Boxed: `off` parses to null (no limit), which is not a failure.
    (v) => issues.at([], () => ({ s: parseDurationField(v, 'off') })),
    (v) => (out.max_duration = v.s),
  );
  one(
    '--idle-duration',
    o.idleDuration,
    (v) => issues.at([], () => ({ s: parseDurationField(v, 'idle') })),
    (v) => (out.idle_duration = v.s),
  );
  if (o.creationPolicy !== undefined) {
    if (!(CREATION_POLICIES as readonly string[]).includes(o.creationPolicy)) {
      fail('creation policy', o.creationPolicy, `use ${CREATION_POLICIES.join(' or ')}`);
    }
    out.creation_policy = o.creationPolicy as CreationPolicy;
  }
  for (const k of Object.keys(out) as (keyof Parsed)[]) if (out[k] === undefined) delete out[k];
  return out;
}

/**
 * A copy of `config` with the flags applied: each replaces the key it names. `--retry` turns the
 * file's retry on (its events and duration if it has them, else every event for 1h), `--no-retry` off,
 * `--retry-duration` sets the duration (and turns it on).
 */
export function applyOverrides<T extends Overridable>(config: T, o: OverrideValues): T {
  const p = parseOverrides(o);
  const out = structuredClone(config);
  const { max_price, spot_policy, name, backends, regions, instance_types, fleets, retry, retry_duration, ...rest } = p;
  const { max_duration, idle_duration, creation_policy, ...resources } = rest;
  Object.assign(out.resources, resources);
  if (max_price !== undefined) out.max_price = max_price;
  if (spot_policy !== undefined) out.spot_policy = spot_policy;
  if (name !== undefined) out.name = name;
  if (backends !== undefined) out.backends = backends;
  if (regions !== undefined) out.regions = regions;
  if (instance_types !== undefined) out.instance_types = instance_types;
  if (fleets !== undefined) out.fleets = fleets;
  if (max_duration !== undefined) out.max_duration = max_duration;
  if (idle_duration !== undefined) out.idle_duration = idle_duration;
  if (creation_policy !== undefined) out.creation_policy = creation_policy;
  if (retry === false) out.retry = null;
  else if (retry === true || retry_duration !== undefined) {
    const current = out.retry ?? null;
    out.retry = {
      on_events: current ? [...current.on_events] : [...RETRY_EVENTS],
      duration: retry_duration ?? current?.duration ?? DEFAULT_RETRY_DURATION,
    };
  }
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
