// The normalized values' zod schemas, shared by the field tables (dev-environment.ts) and the
// stored-configuration check (normalized.ts): what parse.ts builds, `dstack validate --json` prints
// and the daemon stores. Strict: unknown fields, wrong types, broken ranges and bad names fail.
import { z } from 'zod';
import { RUN_NAME_RE } from '../names';
import { CPU_ARCHS, GPU_VENDORS } from '../resources/types';
import { parseHostKey } from '../host-key';
import { ENV_NAME_RE } from './grammar';
import { valueProblem, type ValueKind } from './values';
import { RETRY_EVENTS } from './types';

export const enumOf = <T extends string>(values: readonly T[]) => z.enum(values as unknown as [T, ...T[]]);
const nonNeg = z.number().finite().nonnegative();
export const seconds = z.number().int().nonnegative();
const range = (item: z.ZodNumber) =>
  z
    .strictObject({ min: item.nullable(), max: item.nullable() })
    .refine((r) => r.min !== null || r.max !== null, 'empty range')
    .refine((r) => r.min === null || r.max === null || r.min <= r.max, 'min is greater than max');
const countRange = range(z.number().int().nonnegative());
const sizeRange = range(nonNeg);

export const resources = z.strictObject({
  cpu: z.strictObject({ arch: enumOf(CPU_ARCHS).nullable(), count: countRange }),
  memory: sizeRange,
  shm_size: nonNeg.nullable(),
  gpu: z.strictObject({
    vendor: enumOf(GPU_VENDORS).nullable(),
    name: z.array(z.string().min(1)).min(1).nullable(),
    count: countRange,
    memory: sizeRange.nullable(),
    total_memory: sizeRange.nullable(),
    compute_capability: z
      .string()
      .regex(/^\d+\.\d+$/)
      .nullable(),
  }),
  disk: z.strictObject({ size: sizeRange }),
});

export const env = z.record(z.string().regex(ENV_NAME_RE), z.string().nullable());
export const retry = z.strictObject({ on_events: z.array(enumOf(RETRY_EVENTS)).min(1), duration: seconds }).nullable();
export const names = z.array(z.string()).nullable();
export const port = z.number().int().min(1).max(65535);
export const runName = z.string().regex(RUN_NAME_RE).nullable();
// The same character rules as the file's (values.ts): these values go into ssh_config and systemd units.
export const checked = (kind: ValueKind) =>
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
export const blocks = z.union([z.literal('auto'), z.number().int().min(1)]);

export const sshConfig = z.strictObject({
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
});

export const fleetNodes = z.strictObject({
  min: z.number().int().nonnegative(),
  target: z.number().int().nonnegative(),
  max: z.number().int().nonnegative().nullable(),
});
