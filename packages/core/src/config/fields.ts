// zod building blocks for the configuration schemas: plain fields with their descriptions, and the
// grammar fields (resources, env, durations, ...) wrapped so their problems become zod issues at the
// right path. Each carries the JSON Schema of what may be written, for `dstack schema`.
import { z } from 'zod';
import { Issues, type Path } from '../resources/errors';
import { parseResources } from '../resources/spec';
import { RUN_NAME_RE } from '../names';
import {
  parseDurationField,
  parseEnv,
  parseFiles,
  parsePorts,
  parsePython,
  parseRepos,
  parseRetry,
  parseUtilizationPolicy,
  parseVolumes,
  type DurationKind,
} from './grammar';
import { BACKENDS, PYTHON_VERSIONS, RETRY_EVENTS, SPOT_POLICIES } from './types';

type JsonSchema = Record<string, unknown>;

/** A field parsed by a grammar function that reports into Issues. */
export function grammar<T>(parse: (v: unknown, issues: Issues, path: Path) => T | undefined, description: string, jsonSchema: JsonSchema) {
  return z
    .unknown()
    .transform((v, ctx) => {
      // `key:` with nothing after it means the same as leaving the key out, as in dstack.
      if (v === null) return undefined;
      const issues = new Issues();
      const out = parse(v, issues, []);
      for (const i of issues.list) ctx.addIssue({ code: 'custom', message: i.message, path: i.path, params: { atKey: i.atKey ?? false } });
      return issues.ok ? (out as T) : z.NEVER;
    })
    .meta({ description, ...jsonSchema });
}

/** A field parsed by a leaf function that throws GrammarError. */
export function leaf<T>(parse: (v: unknown) => T, description: string, jsonSchema: JsonSchema) {
  return grammar((v, issues, path) => issues.at(path, () => parse(v)), description, jsonSchema);
}

export const str = (description: string) => z.string().meta({ description });
export const bool = (description: string) => z.boolean().meta({ description });
export const strList = (description: string) => z.array(z.string()).meta({ description });

export const runName = z
  .string()
  .regex(RUN_NAME_RE, {
    message: `use 2 to 41 lowercase letters, digits and dashes, starting with a letter (${RUN_NAME_RE.source})`,
  })
  .meta({ description: 'The name; if not given, a random one is generated' });

// Seconds may have a fraction, which is cut off (dstack: 1.9 → 1).
const durationSchema: JsonSchema = {
  anyOf: [
    { type: 'number', minimum: 0 },
    { type: 'string', pattern: '^\\s*\\d+\\s*[smhdw]?\\s*$' },
  ],
};
const offDurationSchema: JsonSchema = {
  anyOf: [...(durationSchema.anyOf as JsonSchema[]), { const: 'off' }, { type: 'boolean' }],
};

export const duration = (kind: DurationKind, description: string) =>
  leaf((v) => parseDurationField(v, kind), description, kind === 'plain' ? durationSchema : offDurationSchema);

const rangeOf = (item: JsonSchema): JsonSchema => ({
  anyOf: [
    item,
    { type: 'string', pattern: '\\.\\.' },
    { type: 'object', properties: { min: item, max: item }, additionalProperties: false },
  ],
});
const countSchema = { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string' }] };
const sizeSchema = {
  anyOf: [
    { type: 'number', minimum: 0 },
    { type: 'string', pattern: '^\\s*[\\d.]+\\s*([MGTmgt][Bb])?\\s*$' },
  ],
};

const resourcesSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    cpu: {
      description: 'CPU cores: 16, 2..8, x86:16, arm:8.., or {arch, count}. Default 2..',
      anyOf: [
        { type: 'integer', minimum: 0 },
        { type: 'string' },
        {
          type: 'object',
          additionalProperties: false,
          properties: { arch: { enum: ['x86', 'arm'] }, count: rangeOf(countSchema), min: countSchema, max: countSchema },
        },
      ],
    },
    memory: { description: 'RAM: 24GB, 24GB.., 24GB..80GB (MB, GB, TB; a bare number is GB). Default 8GB..', ...rangeOf(sizeSchema) },
    shm_size: { description: 'Shared memory size, e.g. 16GB', ...sizeSchema },
    gpu: {
      description:
        'GPUs: [VENDOR:][NAMES:][MEMORY:][COUNT] (A100, A10G,A100, A100:80GB:2, 24GB..40GB:2, nvidia:2, v2-8), or an object. Default: none required',
      anyOf: [
        { type: 'integer', minimum: 0 },
        { type: 'string' },
        {
          type: 'object',
          additionalProperties: false,
          properties: {
            vendor: { enum: ['nvidia', 'amd', 'google', 'tpu', 'intel', 'tenstorrent', 'tt'] },
            name: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
            count: rangeOf(countSchema),
            memory: rangeOf(sizeSchema),
            total_memory: rangeOf(sizeSchema),
            compute_capability: { anyOf: [{ type: 'number' }, { type: 'string' }] },
          },
        },
      ],
    },
    disk: {
      description: 'Disk size: 100GB, 100GB.., or {size}. Default 100GB..',
      anyOf: [
        ...(rangeOf(sizeSchema).anyOf as JsonSchema[]),
        { type: 'object', properties: { size: rangeOf(sizeSchema) }, additionalProperties: false },
      ],
    },
  },
};

export const resources = grammar(parseResources, 'What the instance must have: cpu, memory, shm_size, gpu, disk', resourcesSchema);

export const env = grammar(parseEnv, 'Environment variables: a list of NAME=VALUE or NAME (value taken from the CLI), or a mapping', {
  anyOf: [
    { type: 'array', items: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*(=.*)?$' } },
    {
      type: 'object',
      propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
      additionalProperties: { type: ['string', 'number', 'boolean', 'null'] },
    },
  ],
});

export const ports = grammar(parsePorts, 'Ports to forward: 8080, "8000:8080" (local:container) or "*:8080"', {
  type: 'array',
  items: {
    anyOf: [
      { type: 'integer', minimum: 1, maximum: 65535 },
      { type: 'string', pattern: '^(\\d+|\\*)?:?\\d+$' },
    ],
  },
});

export const volumes = grammar(parseVolumes, 'Mounts: NAME:/path (a volume), /instance/path:/path, or objects', {
  type: 'array',
  items: {
    anyOf: [
      { type: 'string' },
      {
        type: 'object',
        properties: { name: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] }, path: { type: 'string' } },
        required: ['name', 'path'],
        additionalProperties: false,
      },
      {
        type: 'object',
        properties: { instance_path: { type: 'string' }, path: { type: 'string' }, optional: { type: 'boolean' } },
        required: ['instance_path', 'path'],
        additionalProperties: false,
      },
    ],
  },
});

export const files = grammar(parseFiles, 'Local files and folders to put in the job: LOCAL, LOCAL:PATH or {local_path, path}', {
  type: 'array',
  items: {
    anyOf: [
      { type: 'string' },
      {
        type: 'object',
        properties: { local_path: { type: 'string' }, path: { type: 'string' } },
        required: ['local_path'],
        additionalProperties: false,
      },
    ],
  },
});

export const repos = grammar(parseRepos, 'One repo: a local folder or a git URL (LOCAL, URL, with :PATH), or {local_path | url, ...}', {
  type: 'array',
  maxItems: 1,
  items: {
    anyOf: [
      { type: 'string' },
      {
        type: 'object',
        properties: {
          local_path: { type: 'string' },
          url: { type: 'string' },
          branch: { type: 'string' },
          hash: { type: 'string' },
          path: { type: 'string' },
          if_exists: { enum: ['error', 'skip'] },
          token_env: { type: 'string' },
        },
        additionalProperties: false,
      },
    ],
  },
});

export const retry = grammar(parseRetry, 'Retry the run: true (on every event, for 1h) or {on_events, duration}', {
  anyOf: [
    { type: 'boolean' },
    {
      type: 'object',
      additionalProperties: false,
      properties: { on_events: { type: 'array', minItems: 1, items: { enum: [...RETRY_EVENTS] } }, duration: durationSchema },
    },
  ],
});

export const utilizationPolicy = grammar(
  parseUtilizationPolicy,
  'End the run once a GPU stays below min_gpu_utilization (percent) for the whole time_window (at least 5m)',
  {
    type: 'object',
    additionalProperties: false,
    required: ['min_gpu_utilization', 'time_window'],
    properties: { min_gpu_utilization: { type: 'integer', minimum: 0, maximum: 100 }, time_window: durationSchema },
  },
);

export const python = leaf(parsePython, 'The Python version of the default image; exclusive with image', {
  anyOf: [{ enum: [...PYTHON_VERSIONS] }, { type: 'number' }],
});

export const spotPolicy = z.enum(SPOT_POLICIES as [string, ...string[]]).meta({ description: 'spot, on-demand (default) or auto' });

export const maxPrice = z.number().gt(0, { message: '`max_price` must be greater than 0 (dollars per hour)' }).meta({
  description: 'The highest price per hour, in dollars',
});

export { BACKENDS };

export const backends = z.array(z.enum(BACKENDS)).meta({ description: 'Backends to consider, e.g. [local, ssh]' });
