// A normalized configuration read back from storage (the daemon's state.db keeps what parse.ts
// built, as JSON): checked before it is trusted. Strict: unknown fields, wrong types, broken ranges
// and bad names are rejected with the path of the first problems.
import { z } from 'zod';
import { RUN_NAME_RE } from '../names';
import { CPU_ARCHS, GPU_VENDORS } from '../resources/types';
import { parseHostKey } from '../host-key';
import { ENV_NAME_RE } from './grammar';
import { valueProblem, type ValueKind } from './values';
import { BACKENDS } from './fields';
import { pathString } from './messages';
import {
  CREATION_POLICIES,
  IDES,
  PLACEMENTS,
  PYTHON_VERSIONS,
  RETRY_EVENTS,
  SPOT_POLICIES,
  type Configuration,
  type DevEnvironmentConfiguration,
  type FleetConfiguration,
} from './types';

const enumOf = <T extends string>(values: readonly T[]) => z.enum(values as unknown as [T, ...T[]]);
const nonNeg = z.number().finite().nonnegative();
const seconds = z.number().int().nonnegative();
const range = (item: z.ZodNumber) =>
  z
    .strictObject({ min: item.nullable(), max: item.nullable() })
    .refine((r) => r.min !== null || r.max !== null, 'empty range')
    .refine((r) => r.min === null || r.max === null || r.min <= r.max, 'min is greater than max');
const countRange = range(z.number().int().nonnegative());
const sizeRange = range(nonNeg);

const resources = z.strictObject({
  cpu: z.strictObject({ arch: enumOf(CPU_ARCHS).nullable(), count: countRange }),
  memory: sizeRange,
  shm_size: nonNeg.nullable(),
  gpu: z.strictObject({
    vendor: enumOf(GPU_VENDORS).nullable(),
    name: z.array(z.string().min(1)).min(1).nullable(),
    count: countRange,
    memory: sizeRange.nullable(),
    total_memory: sizeRange.nullable(),
    compute_capability: z.string().regex(/^\d+\.\d+$/).nullable(),
  }),
  disk: z.strictObject({ size: sizeRange }),
});

const env = z.record(z.string().regex(ENV_NAME_RE), z.string().nullable());
const retry = z.strictObject({ on_events: z.array(enumOf(RETRY_EVENTS)).min(1), duration: seconds }).nullable();
const names = z.array(z.string()).nullable();
const port = z.number().int().min(1).max(65535);
const runName = z.string().regex(RUN_NAME_RE).nullable();
// The same character rules as the file's (values.ts): these values go into ssh_config and systemd units.
const checked = (kind: ValueKind) =>
  z.string().superRefine((v, ctx) => {
    const problem = valueProblem(v, kind);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
const hostKey = z
  .string()
  .superRefine((v, ctx) => {
    try {
      const key = parseHostKey(v);
      if (v !== `${key.type} ${key.base64}`) throw new Error(`expected "TYPE BASE64", got ${JSON.stringify(v)}`);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  })
  .nullable();
const proxy = z.strictObject({
  hostname: checked('hostname').min(1),
  port: port.nullable(),
  user: checked('user').min(1),
  identity_file: checked('path').min(1),
  host_key: hostKey,
});
const blocks = z.union([z.literal('auto'), z.number().int().min(1)]);

const devEnvironment = z.strictObject({
  type: z.literal('dev-environment'),
  name: runName,
  image: z.string().nullable(),
  python: enumOf(PYTHON_VERSIONS).nullable(),
  nvcc: z.boolean().nullable(),
  privileged: z.boolean(),
  ide: enumOf(IDES).nullable(),
  version: z.string().nullable(),
  init: z.array(z.string()),
  env,
  registry_auth: z.strictObject({ username: z.string(), password: z.string() }).nullable(),
  working_dir: z.string().nullable(),
  user: checked('user').nullable(),
  shell: z.string().nullable(),
  ports: z.array(z.strictObject({ local_port: port.nullable(), container_port: port })),
  volumes: z.array(
    z.union([
      z.strictObject({ name: z.array(z.string().min(1)).min(1), path: z.string() }),
      z.strictObject({ instance_path: z.string(), path: z.string(), optional: z.boolean() }),
    ]),
  ),
  resources,
  spot_policy: enumOf(SPOT_POLICIES),
  retry,
  max_duration: seconds.nullable(),
  inactivity_duration: seconds.nullable(),
  idle_duration: z.number().int().min(-1).nullable(),
  max_price: z.number().positive().nullable(),
  backends: z.array(z.enum(BACKENDS)).nullable(),
  regions: names,
  instance_types: names,
  creation_policy: enumOf(CREATION_POLICIES),
  fleets: names,
}) satisfies z.ZodType<DevEnvironmentConfiguration>;

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
