// dstack's profiles: `profiles.yml` files of named run settings (backends, regions, spot policy,
// retry, durations, ...), one of them maybe `default: true`. Read as dstack's `load_profile` reads
// them: the repo's `.dstack/profiles.yml` first, then `~/.dstack/profiles.yml`; the first file that
// has the profile asked for (or, with no name, a default one) gives it, whole; a name found nowhere
// is an error. A profile fills in the keys the configuration file leaves out (dstack's
// `RunSpec.merged_profile`); the command line's flags come on top of both. Each value is read with the
// configuration's own grammar, and a bad one is reported at its FILE:LINE:COL.
import { unknownKeyMessage, type Path } from '../resources/errors';
import { buildDevEnvironment, checkDevEnvironment, devEnvironmentSchema, DEV_ENVIRONMENT_UNSUPPORTED } from './dev-environment';
import { issuesFromZod } from './messages';
import { formatError } from './parse';
import { checkValues } from './values';
import { linePos, loadYaml, offsetOf } from './yaml-source';
import type { ConfigError, DevEnvironmentConfiguration } from './types';

/** The keys a profile may set: dstack's profile parameters that a dev environment here runs. */
export const PROFILE_KEYS = [
  'backends',
  'regions',
  'instance_types',
  'fleets',
  'spot_policy',
  'max_price',
  'retry',
  'max_duration',
  'idle_duration',
  'utilization_policy',
  'creation_policy',
] as const;

type ProfileKey = (typeof PROFILE_KEYS)[number];

/** dstack profile keys that are not run here, with what to do instead. */
const PROFILE_UNSUPPORTED: Record<string, string> = {
  availability_zones: DEV_ENVIRONMENT_UNSUPPORTED.availability_zones,
  reservation: DEV_ENVIRONMENT_UNSUPPORTED.reservation,
  stop_duration: DEV_ENVIRONMENT_UNSUPPORTED.stop_duration,
  retry_policy: '`retry_policy` is deprecated in dstack: use `retry`',
  termination_idle_time: '`termination_idle_time` is deprecated in dstack: use `idle_duration`',
  termination_policy: '`termination_policy` is deprecated in dstack: use `idle_duration` (`off` keeps the instance)',
  pool_name: '`pool_name` is gone from dstack (pools became fleets): use `fleets`',
  instance_name: '`instance_name` is gone from dstack (pools became fleets): use `fleets`',
};

/** One profiles.yml: its path as shown in errors, and its text. */
export interface ProfilesFileText {
  path: string;
  text: string;
}

export interface Profile {
  name: string;
  default: boolean;
  /** The file it came from, as shown in errors. */
  file: string;
  /** The keys it sets, normalized as in a configuration. */
  values: Partial<Pick<DevEnvironmentConfiguration, ProfileKey>>;
}

export type ProfilesResult = { ok: true; profiles: Profile[] } | { ok: false; errors: ConfigError[] };

/** A profile asked for that no file has: the message names what asked for it (the flag) and the name. */
export class ProfileNotFoundError extends Error {
  override name = 'ProfileNotFoundError';
}

/** Every profile of one profiles.yml, or every problem in it at FILE:LINE:COL. An empty file has none. */
export function parseProfiles(file: string, text: string): ProfilesResult {
  const src = loadYaml(text);
  const errors: ConfigError[] = [];
  const at = (path: Path, message: string, atKey = false) => errors.push({ file, ...linePos(src, offsetOf(src, path, atKey)), message });
  if (src.errors.length) {
    return { ok: false, errors: src.errors.map((e) => ({ file, ...linePos(src, e.offset), message: `YAML syntax error: ${e.message}` })) };
  }
  const raw: unknown = src.doc.toJS({ maxAliasCount: 1000 });
  if (raw === null || raw === undefined) return { ok: true, profiles: [] };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    at([], 'expected a mapping with `profiles:`, a list of profiles');
    return { ok: false, errors };
  }
  for (const key of Object.keys(raw)) if (key !== 'profiles') at([key], unknownKeyMessage(key, ['profiles'], 'a profiles file'), true);
  const list = (raw as Record<string, unknown>).profiles;
  if (!Array.isArray(list)) {
    if (!errors.length || list !== undefined)
      at(list === undefined ? [] : ['profiles'], 'expected `profiles:` with a list of profiles (each with a `name`)');
    return { ok: false, errors };
  }
  const profiles: Profile[] = [];
  list.forEach((item, i) => {
    const p = readProfile(item, ['profiles', i], file, at);
    if (p) profiles.push(p);
  });
  return errors.length ? { ok: false, errors: errors.sort((a, b) => a.line - b.line || a.column - b.column) } : { ok: true, profiles };
}

function readProfile(
  item: unknown,
  path: Path,
  file: string,
  at: (path: Path, message: string, atKey?: boolean) => void,
): Profile | undefined {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) {
    at(path, 'expected a profile: a mapping with `name` and the settings it gives');
    return undefined;
  }
  const { name, default: isDefault, ...rest } = item as Record<string, unknown>;
  let bad = false;
  if (typeof name !== 'string' || !name) {
    at(name === undefined ? path : [...path, 'name'], name === undefined ? 'missing required key `name`' : '`name` must be a string');
    bad = true;
  }
  if (isDefault !== undefined && isDefault !== null && typeof isDefault !== 'boolean') {
    at([...path, 'default'], '`default` must be true or false');
    bad = true;
  }
  const settings: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rest)) {
    if ((PROFILE_KEYS as readonly string[]).includes(key)) settings[key] = value;
    else {
      at(
        [...path, key],
        PROFILE_UNSUPPORTED[key] ?? `unknown key \`${key}\` in a profile; allowed: name, default, ${PROFILE_KEYS.join(', ')}`,
        true,
      );
      bad = true;
    }
  }
  // Each setting is read as the same key of a dev environment would be.
  const obj = { type: 'dev-environment', ...settings };
  const schema = devEnvironmentSchema();
  const parsed = schema.safeParse(obj, { reportInput: true });
  const data = parsed.success ? (parsed.data as Record<string, unknown>) : null;
  const issues = (parsed.error?.issues ?? []).flatMap((issue) =>
    issuesFromZod(issue as Parameters<typeof issuesFromZod>[0], { raw: obj, root: 'profile', unsupported: {}, schema }),
  );
  issues.push(...checkDevEnvironment(obj, data, {}), ...checkValues('dev-environment', obj));
  for (const issue of issues) at([...path, ...issue.path], issue.message, issue.atKey);
  if (bad || issues.length || !data) return undefined;
  const built = buildDevEnvironment(data, {});
  const values: Profile['values'] = {};
  for (const key of PROFILE_KEYS) {
    if (settings[key] !== undefined && settings[key] !== null) (values as Record<string, unknown>)[key] = built[key];
  }
  return { name: name as string, default: isDefault === true, file, values };
}

/**
 * The profile to use, as dstack's `load_profile` picks it: the files in order (the repo's, then the
 * user's), the first that has `name` (or, without a name, a `default: true` profile) gives it. A file
 * is read only when the ones before it did not have the profile; a bad one is an error
 * (ProfilesError). A name found nowhere throws ProfileNotFoundError naming `asked` (the flag).
 */
export function pickProfile(files: readonly ProfilesFileText[], name: string, asked = '--profile'): Profile | undefined {
  for (const f of files) {
    const r = parseProfiles(f.path, f.text);
    if (!r.ok) throw new ProfilesError(r.errors);
    const found = name ? r.profiles.find((p) => p.name === name) : r.profiles.find((p) => p.default);
    if (found) return found;
  }
  if (!name) return undefined;
  const where = files.length
    ? files.map((f) => f.path).join(' or ')
    : 'no profiles.yml (the repo has no .dstack/profiles.yml, nor ~/.dstack)';
  throw new ProfileNotFoundError(`${asked} ${JSON.stringify(name)}: no such profile in ${where}`);
}

/** A profiles.yml with problems: every one of them at FILE:LINE:COL. */
export class ProfilesError extends Error {
  override name = 'ProfilesError';
  constructor(readonly errors: ConfigError[]) {
    super(errors.map(formatError).join('\n'));
  }
}

/**
 * The keys a configuration's text writes at its top level (with a value: `key:` with nothing after it
 * counts as left out, as in dstack). Only called on text that parsed.
 */
export function writtenKeys(text: string): Set<string> {
  const raw: unknown = loadYaml(text).doc.toJS({ maxAliasCount: 1000 });
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return new Set();
  return new Set(Object.entries(raw).flatMap(([k, v]) => (v === null || v === undefined ? [] : [k])));
}

/** A copy of `config` with the profile's values for every key the file (`written`) left out. */
export function applyProfile<T extends DevEnvironmentConfiguration>(config: T, profile: Profile, written: ReadonlySet<string>): T {
  const out = structuredClone(config);
  for (const [key, value] of Object.entries(profile.values)) {
    if (!written.has(key)) (out as Record<string, unknown>)[key] = structuredClone(value);
  }
  return out;
}
