// @dstack/core/config/index — `.dstack.yml` configurations: parse, validate, normalize, print.
//
// Import as `@dstack/core/config/index`. This module loads zod and yaml; code that only needs offers,
// names or durations should import the light modules directly (`@dstack/core/offers/index`,
// `@dstack/core/names`, `@dstack/core/duration`, `@dstack/core/resources/index`): no dependencies.
//
// Parsing (the daemon, and `dstack validate` in the CLI):
//   parseConfiguration(file, text, env?, secrets?) → { ok: true, config, fromSecrets } | { ok: false, errors: ConfigError[] }
//     file: the path shown in errors; text: the YAML; env: the CLI's environment for
//     `${{ env.NAME }}` in registry_auth (omit it to keep references unresolved, as `validate` does);
//     secrets: the daemon's, for `${{ secrets.NAME }}` in env values and registry_auth (fromSecrets:
//     the keys whose value took one, `env.NAME` or `registry_auth.username|password`).
//     Every problem in the file is reported at once, sorted by position; ConfigError is
//     { file, line, column, message } (1-based).
//     On success, `warnings` (ConfigError[]): deprecated keys dstack still accepts (`setup`,
//     `home_dir`), each at its key; print them as `warning: FILE:LINE:COL: message`.
//   formatError(e) → "FILE:LINE:COL: message"   (one line per error; print to stderr)
//   envNeedingValues(config) → names of env entries listed without a value (`- HF_TOKEN`): apply must
//     take them from `-e NAME=VALUE` or its environment and send them as secret_env.
//
// Output:
//   toJson(config, { revealSecrets? }) → the normalized configuration as plain JSON (what `dstack
//     validate --json` prints and what the daemon stores): durations in seconds (null: off or
//     unset; idle_duration -1: off), sizes in GB, ranges { min, max }, env { NAME: value | null },
//     registry_auth.password "***" unless revealSecrets.
//   toYaml(config, opts?) → the same, readable, in dstack's grammar (and valid input again).
//   configurationJsonSchema(type?) → JSON Schema (draft-07) for editors (`dstack schema`).
//
// The daemon's side (it parses files with parseConfiguration; see ./source for overrides and env):
//   parseNormalizedConfiguration(value) → { ok: true, config } | { ok: false, message }: a stored
//     configuration checked before it is trusted
//   NormalizedConfigurationSchema (zod)
//   resolveSshHosts(ssh_config) → hosts with user/port(22)/identity_file/proxy_jump filled in.
//
// Types: Configuration = DevEnvironmentConfiguration | FleetConfiguration (see ./types for every field),
//   ResourcesSpec, Range, CpuSpec, GpuSpec, DiskSpec, EnvMapping, RetryPolicy, PortMapping, ...
//
// Re-exported for convenience: durations (parseDuration, parseOffDuration, parseIdleDuration,
// formatDuration, formatDurationHuman), offers (offerFits, sortOffers, formatResources), resources
// (formatResourcesSpec, effectiveCpuArch), names (generateRunName, RUN_NAME_RE, isValidRunName).
import type { Configuration } from './types';

export * from './types';
export { parseConfiguration, formatError } from './parse';
export { toJson, toYaml, MASK, type OutputOptions } from './output';
export { configurationJsonSchema } from './json-schema';
export { parseNormalizedConfiguration, NormalizedConfigurationSchema, type NormalizedResult } from './normalized';
export { resolveSshHosts, type ResolvedSshHost } from './fleet';
export { interpolate } from './interpolate';

export { parseDuration, parseOffDuration, parseIdleDuration, formatDuration, formatDurationHuman, DurationError } from '../duration';
export { offerFits, sortOffers, formatResources, type FitResult } from '../offers/index';
export { formatResourcesSpec, effectiveCpuArch } from '../resources/index';
export { generateRunName, RUN_NAME_RE, isValidRunName } from '../names';

/** Env entries listed without a value, in file order: apply must supply them (`-e` or the environment). */
export function envNeedingValues(config: Configuration): string[] {
  return Object.entries(config.env)
    .filter(([, v]) => v === null)
    .map(([k]) => k);
}
