// Where the daemon turns a configuration as written (ConfigurationSource: the file's text and path,
// dstack's profiles, the flag overrides, -e/--env-file entries, the caller's environment) into a typed
// configuration: parsed and validated by core once, here. A bad file (or profiles.yml) is refused with
// every problem at its FILE:LINE:COL under CONFIGURATION_ERRORS_HEADER, which the CLI prints as
// `dstack validate` does. A run's keys come from the flags, else the file, else the profile.
//
// The caller's whole environment comes with the request (one round trip on the apply path instead
// of a second one for the names the file turns out to need); only the names the configuration
// refers to are read from it, and the map is dropped with the request: never stored or logged.
//
// `${{ secrets.NAME }}` (the daemon's own secrets, `dstack secret set`) is filled in here too, so the
// CLI never receives a value: an env value that took a secret becomes a secret env entry (sealed,
// masked, the job's secret_env) unless a -e entry replaced it; an unknown secret is a file error at
// its place.
import { resolve } from 'node:path';
import { formatError, parseConfiguration, type Configuration } from '@dstack/core/config/index';
import { applyProfile, pickProfile, ProfileNotFoundError, ProfilesError, writtenKeys } from '@dstack/core/config/profiles';
import { applyOverrides, CONFIGURATION_ERRORS_HEADER, EnvValueError, OverrideError, resolveEnv } from '@dstack/core/config/source';
import type { ConfigurationOverrides, ConfigurationSource } from '@dstack/core/gen/daemon';
import { BadRequestError } from '@dstack/core/grpc';

export interface ReadSource<T extends Configuration> {
  /** Overrides applied; env entries given as secrets are null (their values are in secretEnv). */
  config: T;
  /** Values of the secret env entries (given as secrets, or taken from the daemon's secrets). */
  secretEnv: Record<string, string>;
  /** registry_auth.username took a `${{ secrets.NAME }}`: it is sealed and masked like the password. */
  secretRegistryUsername: boolean;
  /** The file's absolute path. */
  path: string;
  /** Deprecated keys the file uses, one `FILE:LINE:COL: message` line each. */
  warnings: string[];
}

const OTHER_RPC: Record<Configuration['type'], string> = { 'dev-environment': 'ApplyRun', fleet: 'ApplyFleet' };

/** Parses and checks `src` as a configuration of `type`; BadRequestError for anything wrong with it. */
export function readSource<K extends Configuration['type']>(
  src: ConfigurationSource | undefined,
  type: K,
  rpc: string,
  secrets?: (name: string) => string | undefined,
): ReadSource<Extract<Configuration, { type: K }>> {
  if (!src) throw new BadRequestError('configuration is missing: send the file as ConfigurationSource');
  const callerEnv: Record<string, string | undefined> = src.callerEnv ?? {};
  const result = parseConfiguration(src.path, src.text, callerEnv, secrets);
  if (!result.ok) throw new BadRequestError([CONFIGURATION_ERRORS_HEADER, ...result.errors.map(formatError)].join('\n'));
  let config = result.config;
  if (config.type !== type) {
    throw new BadRequestError(`${src.path}: a ${config.type} configuration is applied with ${OTHER_RPC[config.type]}, not ${rpc}`);
  }
  const profiles = src.profiles;
  if (profiles && (profiles.name || profiles.files.length)) {
    const flag = profiles.flag || '--profile';
    if (config.type === 'dev-environment') {
      try {
        const profile = pickProfile(profiles.files, profiles.name, flag);
        if (profile) config = applyProfile(config, profile, writtenKeys(src.text));
      } catch (err) {
        if (err instanceof ProfilesError) throw new BadRequestError([CONFIGURATION_ERRORS_HEADER, err.message].join('\n'));
        if (err instanceof ProfileNotFoundError) throw new BadRequestError(err.message);
        throw err;
      }
    } else if (profiles.name) {
      // As dstack: profiles are a run's settings; a fleet's default profile is not looked at.
      throw new BadRequestError(`${flag} ${JSON.stringify(profiles.name)}: profiles are for runs, not for fleets`);
    }
  }
  const o = src.overrides;
  if (o && overridesGiven(o)) {
    if (config.type !== 'dev-environment')
      throw new BadRequestError('run flags (resources, price, backends, retry, durations...) are for runs, not for fleets');
    try {
      // Proto strings: empty means not given (the CLI refuses an empty flag value before sending).
      const given = (v: string) => v || undefined;
      const list = (v: string[]) => (v.length ? v : undefined);
      config = applyOverrides(config, {
        gpu: given(o.gpu),
        cpu: given(o.cpu),
        memory: given(o.memory),
        disk: given(o.disk),
        maxPrice: given(o.maxPrice),
        spotPolicy: given(o.spotPolicy),
        name: given(o.name),
        backends: list(o.backends),
        regions: list(o.regions),
        instanceTypes: list(o.instanceTypes),
        fleets: list(o.fleets),
        retry: o.retry,
        retryDuration: given(o.retryDuration),
        maxDuration: given(o.maxDuration),
        idleDuration: given(o.idleDuration),
        creationPolicy: given(o.creationPolicy),
      });
    } catch (err) {
      if (err instanceof OverrideError) throw new BadRequestError(err.message);
      throw err;
    }
  }
  let secretEnv: Record<string, string>;
  try {
    const r = resolveEnv(config.env, src.env, callerEnv);
    config = { ...config, env: r.env };
    secretEnv = r.secretEnv;
  } catch (err) {
    if (err instanceof EnvValueError) throw new BadRequestError(err.message);
    throw err;
  }
  const fromSecrets = result.fromSecrets ?? [];
  for (const key of fromSecrets) {
    const name = key.startsWith('env.') ? key.slice(4) : undefined;
    const value = name === undefined ? undefined : config.env[name];
    if (name === undefined || typeof value !== 'string' || src.env.some((e) => e.name === name)) continue;
    config.env[name] = null;
    secretEnv[name] = value;
  }
  return {
    config: config as Extract<Configuration, { type: K }>,
    secretEnv,
    secretRegistryUsername: fromSecrets.includes('registry_auth.username'),
    path: resolve(src.cwd || '/', src.path),
    warnings: (result.warnings ?? []).map(formatError),
  };
}

/** Whether any flag is set: a non-empty string or list, or a boolean given. */
function overridesGiven(o: ConfigurationOverrides): boolean {
  return Object.values(o).some((v) => (Array.isArray(v) ? v.length > 0 : typeof v === 'boolean' || Boolean(v)));
}
