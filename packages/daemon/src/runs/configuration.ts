// The configuration a run was applied with (parsed from its source in ../config-source.ts): secrets
// (env values given as secrets, the registry password) split out to be sealed, the rest stored and
// shown masked, and compared with an active run's for in-place updates.
import { MASK, type DevEnvironmentConfiguration } from '@dstack/core/config/index';

import { BadRequestError } from '@dstack/core/grpc';

export { BadRequestError };

/**
 * What is sealed at rest: values of env entries listed without one or taken from the daemon's secrets,
 * the registry password, and the registry user when it came from a secret.
 */
export interface RunSecrets {
  env: Record<string, string>;
  registryPassword?: string;
  registryUsername?: string;
}

/** Fields that change without a restart. */
export const IN_PLACE_FIELDS = ['inactivity_duration'] as const;

/**
 * The secrets of a run: every env entry without a value must have one in secret_env.
 * secretUsername: registry_auth.username took a secret (`${{ secrets.NAME }}`).
 */
export function collectSecrets(config: DevEnvironmentConfiguration, secretEnv: Record<string, string>, secretUsername = false): RunSecrets {
  const missing = Object.entries(config.env)
    .filter(([k, v]) => v === null && secretEnv[k] === undefined)
    .map(([k]) => k);
  if (missing.length) {
    throw new BadRequestError(
      `env ${missing.join(', ')} ${missing.length > 1 ? 'have' : 'has'} no value: pass ${missing.map((m) => `-e ${m}=VALUE`).join(' ')} ` +
        'or set it in the environment of `dstack apply`',
    );
  }
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(config.env)) if (v === null) env[k] = secretEnv[k];
  const secrets: RunSecrets = { env };
  if (config.registry_auth && config.registry_auth.password !== MASK) secrets.registryPassword = config.registry_auth.password;
  if (config.registry_auth && secretUsername) secrets.registryUsername = config.registry_auth.username;
  return secrets;
}

/** The configuration as stored and returned: secret env values and the registry password masked. */
export function maskConfiguration(config: DevEnvironmentConfiguration, secrets: RunSecrets): DevEnvironmentConfiguration {
  const copy = structuredClone(config);
  for (const k of Object.keys(secrets.env)) copy.env[k] = MASK;
  if (copy.registry_auth) copy.registry_auth.password = MASK;
  if (copy.registry_auth && secrets.registryUsername !== undefined) copy.registry_auth.username = MASK;
  return copy;
}

/** The configuration with every secret filled in: for the job spec and for comparisons. */
export function revealConfiguration(masked: DevEnvironmentConfiguration, secrets: RunSecrets): DevEnvironmentConfiguration {
  const copy = structuredClone(masked);
  for (const [k, v] of Object.entries(secrets.env)) copy.env[k] = v;
  if (copy.registry_auth && secrets.registryPassword !== undefined) copy.registry_auth.password = secrets.registryPassword;
  if (copy.registry_auth && secrets.registryUsername !== undefined) copy.registry_auth.username = secrets.registryUsername;
  return copy;
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

/** Top-level fields that differ (secrets compared by value), in the order of the new configuration. */
export function changedFields(current: DevEnvironmentConfiguration, next: DevEnvironmentConfiguration): string[] {
  const keys = [...new Set([...Object.keys(next), ...Object.keys(current)])];
  return keys.filter(
    (k) => canonical((current as unknown as Record<string, unknown>)[k]) !== canonical((next as unknown as Record<string, unknown>)[k]),
  );
}

export function isInPlace(changed: string[]): boolean {
  return changed.every((f) => (IN_PLACE_FIELDS as readonly string[]).includes(f));
}
