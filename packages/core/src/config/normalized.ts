// A normalized configuration read back from storage (the daemon's state.db keeps what parse.ts
// built, as JSON): checked before it is trusted. Strict: unknown fields, wrong types, broken ranges
// and bad names are rejected with the path of the first problems. Each type's schema comes from its
// field table (dev-environment.ts, fleet.ts); the values' schemas are in stored.ts.
import { z } from 'zod';
import { pathString } from './messages';
import { DEV_ENVIRONMENT_FIELDS } from './dev-environment';
import { storedSchema } from './field-table';
import { FLEET_FIELDS } from './fleet';
import type { Configuration, DevEnvironmentConfiguration, FleetConfiguration } from './types';

const devEnvironment = storedSchema('dev-environment', DEV_ENVIRONMENT_FIELDS) satisfies z.ZodType<DevEnvironmentConfiguration>;

const fleet = storedSchema('fleet', FLEET_FIELDS) satisfies z.ZodType<FleetConfiguration>;

/** The zod schema of a normalized configuration (either type). */
export const NormalizedConfigurationSchema = z.discriminatedUnion('type', [devEnvironment, fleet]);

export type NormalizedResult = { ok: true; config: Configuration } | { ok: false; message: string };

/** Checks a normalized configuration read back from storage (the daemon's state.db). Never throws. */
export function parseNormalizedConfiguration(value: unknown): NormalizedResult {
  const r = NormalizedConfigurationSchema.safeParse(value);
  if (r.success) return { ok: true, config: r.data as Configuration };
  const problems = r.error.issues.slice(0, 5).map((i) => `${pathString(i.path as (string | number)[]) || '(root)'}: ${i.message}`);
  return { ok: false, message: `invalid configuration: ${problems.join('; ')}` };
}
