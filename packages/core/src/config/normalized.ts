// A normalized configuration read back from storage (the daemon's state.db keeps what parse.ts
// built, as JSON): checked before it is trusted. Strict: unknown fields, wrong types, broken ranges
// and bad names are rejected with the path of the first problems. A dev environment's schema comes
// from its field table (dev-environment.ts); the values' schemas are in stored.ts.
import { z } from 'zod';
import { BACKENDS } from './fields';
import { pathString } from './messages';
import { DEV_ENVIRONMENT_FIELDS } from './dev-environment';
import { storedSchema } from './field-table';
import { blocks, checked, countRange, enumOf, env, hostKey, names, port, proxy, resources, retry, runName } from './stored';
import { PLACEMENTS, SPOT_POLICIES, type Configuration, type DevEnvironmentConfiguration, type FleetConfiguration } from './types';

const devEnvironment = storedSchema('dev-environment', DEV_ENVIRONMENT_FIELDS) satisfies z.ZodType<DevEnvironmentConfiguration>;

const fleet = z.strictObject({
  type: z.literal('fleet'),
  name: runName,
  env,
  ssh_config: z
    .strictObject({
      user: checked('user').nullable(),
      port: port.nullable(),
      identity_file: checked('path').nullable(),
      proxy_jump: proxy.nullable(),
      hosts: z
        .array(
          z.strictObject({
            hostname: checked('hostname').min(1),
            port: port.nullable(),
            user: checked('user').nullable(),
            identity_file: checked('path').nullable(),
            proxy_jump: proxy.nullable(),
            internal_ip: z.string().nullable(),
            blocks,
            host_key: hostKey,
          }),
        )
        .min(1),
      network: z.string().nullable(),
    })
    .nullable(),
  nodes: z.strictObject({ min: z.number().int().nonnegative(), target: z.number().int().nonnegative(), max: z.number().int().nonnegative().nullable() }).nullable(),
  placement: enumOf(PLACEMENTS),
  resources,
  blocks,
  spot_policy: enumOf(SPOT_POLICIES),
  retry,
  idle_duration: z.number().int().min(-1).nullable(),
  max_price: z.number().positive().nullable(),
  backends: z.array(z.enum(BACKENDS)).nullable(),
  regions: names,
  instance_types: names,
}) satisfies z.ZodType<FleetConfiguration>;

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
