// Where the daemon turns a configuration as written (ConfigurationSource: the file's text and path,
// the flag overrides, -e/--env-file entries, the caller's environment) into a typed configuration:
// parsed and validated by core once, here. A bad file is refused with every problem at its
// FILE:LINE:COL under CONFIGURATION_ERRORS_HEADER, which the CLI prints as `dstack validate` does.
//
// The caller's whole environment comes with the request (one round trip on the apply path instead
// of a second one for the names the file turns out to need); only the names the configuration
// refers to are read from it, and the map is dropped with the request: never stored or logged.
import { resolve } from 'node:path';
import { formatError, parseConfiguration, type Configuration } from '@dstack/core/config/index';
import { applyOverrides, CONFIGURATION_ERRORS_HEADER, EnvValueError, OverrideError, resolveEnv } from '@dstack/core/config/source';
import type { ConfigurationSource } from '@dstack/core/gen/daemon';
import { BadRequestError } from '@dstack/core/grpc';

export interface ReadSource<T extends Configuration> {
  /** Overrides applied; env entries given as secrets are null (their values are in secretEnv). */
  config: T;
  /** Values of the secret env entries. */
  secretEnv: Record<string, string>;
  /** The file's absolute path. */
  path: string;
}

const OTHER_RPC: Record<Configuration['type'], string> = { 'dev-environment': 'ApplyRun', fleet: 'ApplyFleet' };

/** Parses and checks `src` as a configuration of `type`; BadRequestError for anything wrong with it. */
export function readSource<K extends Configuration['type']>(
  src: ConfigurationSource | undefined,
  type: K,
  rpc: string,
): ReadSource<Extract<Configuration, { type: K }>> {
  if (!src) throw new BadRequestError('configuration is missing: send the file as ConfigurationSource');
  const callerEnv: Record<string, string | undefined> = src.callerEnv ?? {};
  const result = parseConfiguration(src.path, src.text, callerEnv);
  if (!result.ok) throw new BadRequestError([CONFIGURATION_ERRORS_HEADER, ...result.errors.map(formatError)].join('\n'));
  let config = result.config;
  if (config.type !== type) {
    throw new BadRequestError(`${src.path}: a ${config.type} configuration is applied with ${OTHER_RPC[config.type]}, not ${rpc}`);
  }
  const o = src.overrides;
  if (o && Object.values(o).some(Boolean)) {
    if (config.type !== 'dev-environment') throw new BadRequestError('resource and price flags are for runs, not for fleets');
    try {
      // Proto strings: empty means not given (the CLI refuses an empty flag value before sending).
      const given = (v: string) => v || undefined;
      config = applyOverrides(config, {
        gpu: given(o.gpu),
        cpu: given(o.cpu),
        memory: given(o.memory),
        disk: given(o.disk),
        maxPrice: given(o.maxPrice),
        spotPolicy: given(o.spotPolicy),
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
  return { config: config as Extract<Configuration, { type: K }>, secretEnv, path: resolve(src.cwd || '/', src.path) };
}
