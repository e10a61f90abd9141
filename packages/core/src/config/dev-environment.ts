// `type: dev-environment`: its field table (what may be written, the normalized value with dstack's
// default, how it is built and printed), and the rules that span fields.
import { z } from 'zod';
import { show, type GrammarIssue } from '../resources/errors';
import { vendorOfGpuName } from '../resources/gpu-catalog';
import { defaultResources, inferGpuVendor } from '../resources/spec';
import type { ResourcesSpec } from '../resources/types';
import {
  BACKENDS,
  backends,
  bool,
  duration,
  env,
  files,
  maxPrice,
  ports,
  python,
  repos,
  resources,
  retry,
  runName,
  spotPolicy,
  str,
  strList,
  utilizationPolicy,
  volumes,
} from './fields';
import { buildFrom, field, inputSchema, type BuildContext } from './field-table';
import {
  checked,
  enumOf,
  env as storedEnv,
  names,
  port,
  resources as storedResources,
  retry as storedRetry,
  runName as storedRunName,
  seconds,
} from './stored';
import { durationYaml, envYaml, portYaml, resourcesYaml, retryYaml, utilizationPolicyYaml, volumeYaml } from './yaml-forms';
import { MIN_UTILIZATION_TIME_WINDOW, fleetReferenceProblem, unixUserProblem } from './grammar';
import { interpolate } from './interpolate';
import { CREATION_POLICIES, IDES, PYTHON_VERSIONS, SPOT_POLICIES, type DevEnvironmentConfiguration, type EnvMapping } from './types';

/** dstack keys this project does not implement, with what to do instead. */
export const DEV_ENVIRONMENT_UNSUPPORTED: Record<string, string> = {
  entrypoint: '`entrypoint` is not supported for dev environments: put startup commands in `init`',
  commands: '`commands` belongs to tasks and services: a dev environment runs `init`',
  priority: '`priority` is not supported by dstack-ts',
  stop_duration: '`stop_duration` is not supported by dstack-ts',
  availability_zones: '`availability_zones` is not supported by dstack-ts',
  reservation: '`reservation` is not supported by dstack-ts',
};

/** dstack keys that are deprecated but accepted, as dstack accepts them: each gives this warning. */
export const DEV_ENVIRONMENT_DEPRECATED: Record<string, string> = {
  setup: '`setup` is deprecated (dstack 0.18.31): its commands run right before `init`; move them into `init`',
  home_dir: '`home_dir` is deprecated (dstack 0.18.31) and has no effect: remove it',
};

/**
 * Every key of a dev environment: what may be written, the normalized value (its type is
 * DevEnvironmentConfiguration), the default, and how it is built and written back. A new key is one
 * row here (plus its use); the rules that span keys are in checkDevEnvironment.
 */
export const DEV_ENVIRONMENT_FIELDS = {
  name: field({ input: runName.nullish(), stored: storedRunName, default: null }),
  image: field({ input: str('The Docker image to run; exclusive with python').nullish(), stored: z.string().nullable(), default: null }),
  python: field({ input: python.optional(), stored: enumOf(PYTHON_VERSIONS).nullable(), default: null }),
  nvcc: field({
    input: bool('Use the default image with nvcc (CUDA compiler); not with image').nullish(),
    stored: z.boolean().nullable(),
    default: null,
  }),
  privileged: field({ input: bool('Run the container in privileged mode').nullish(), stored: z.boolean(), default: false }),
  // Stored with a default: configurations stored before the key existed read as unset.
  docker: field({
    input: bool('Use Docker inside the container (the DinD image, privileged); not with image, python or nvcc').nullish(),
    stored: z.boolean().nullable().default(null),
    default: null,
  }),
  ide: field({
    input: z
      .enum(IDES as [string, ...string[]])
      .nullish()
      .meta({ description: 'vscode, cursor, windsurf or zed; omit for none' }),
    stored: enumOf(IDES).nullable(),
    default: null,
  }),
  version: field({ input: str('The IDE version (commit); needs ide').nullish(), stored: z.string().nullable(), default: null }),
  init: field({ input: strList('Shell commands to run at startup').nullish(), stored: z.array(z.string()), default: () => [] }),
  setup: field({
    input: strList('Deprecated: commands run right before `init`').nullish(),
    stored: z.array(z.string()).default([]),
    default: () => [],
  }),
  env: field({
    input: env.optional(),
    stored: storedEnv,
    default: () => ({}),
    // ${{ secrets.NAME }} filled in (dstack's server does it to every env value), when resolving.
    build: (v: EnvMapping | undefined, _d, ctx) => {
      const out: EnvMapping = { ...v };
      if (!resolving(ctx)) return out;
      for (const [name, value] of Object.entries(out)) {
        if (value === null) continue;
        const r = interpolate(value, { namespaces: ENV_NAMESPACES, resolve: { secrets: ctx.secrets } });
        out[name] = r.value;
        if (r.refs.length) ctx.fromSecrets?.push(`env.${name}`);
      }
      return out;
    },
    yaml: envYaml,
  }),
  registry_auth: field({
    input: z
      .strictObject({
        username: str('The registry user; ${{ env.NAME }} and ${{ secrets.NAME }} allowed'),
        password: str('The password or token; ${{ env.NAME }} and ${{ secrets.NAME }} allowed'),
      })
      .nullish()
      .meta({ description: 'Credentials of a private Docker registry' }),
    stored: z.strictObject({ username: z.string(), password: z.string() }).nullable(),
    default: null,
    build: (v: { username: string; password: string } | undefined, d, ctx) => {
      if (!v) return null;
      const out = { username: v.username, password: v.password };
      for (const key of ['username', 'password'] as const) {
        const r = interpolateRegistryAuth(v[key], d.env ?? {}, ctx);
        out[key] = r.value;
        if (r.fromSecrets) ctx.fromSecrets?.push(`registry_auth.${key}`);
      }
      return out;
    },
  }),
  working_dir: field({ input: str('The working directory inside the container').nullish(), stored: z.string().nullable(), default: null }),
  home_dir: field({ input: str('Deprecated, no effect').nullish(), stored: z.string().nullable().default(null), default: null }),
  user: field({
    input: z.union([z.string(), z.number().int().nonnegative()]).nullish().meta({ description: 'user[:group] inside the container' }),
    stored: checked('user').nullable(),
    default: null,
    build: (v: string | number | undefined) => (v === undefined ? null : String(v)),
  }),
  shell: field({ input: str('sh, bash, or an absolute path').nullish(), stored: z.string().nullable(), default: null }),
  ports: field({
    input: ports.optional(),
    stored: z.array(z.strictObject({ local_port: port.nullable(), container_port: port })),
    default: () => [],
    yaml: (v) => v.map(portYaml),
  }),
  volumes: field({
    input: volumes.optional(),
    stored: z.array(
      z.union([
        z.strictObject({ name: z.array(z.string().min(1)).min(1), path: z.string() }),
        z.strictObject({ instance_path: z.string(), path: z.string(), optional: z.boolean() }),
      ]),
    ),
    default: () => [],
    yaml: (v) => v.map(volumeYaml),
  }),
  files: field({
    input: files.optional(),
    stored: z.array(z.strictObject({ local_path: z.string(), path: z.string() })).default([]),
    default: () => [],
  }),
  repos: field({
    input: repos.optional(),
    stored: z
      .array(
        z.strictObject({
          local_path: z.string().nullable(),
          url: z.string().nullable(),
          branch: z.string().nullable(),
          hash: z.string().nullable(),
          path: z.string(),
          if_exists: z.enum(['error', 'skip']),
          token_env: z.string().nullable(),
        }),
      )
      .default([]),
    default: () => [],
  }),
  single_branch: field({
    input: bool('Clone only the branch of a `repos:` git URL (dstack: false for dev environments)').nullish(),
    stored: z.boolean().nullable().default(null),
    default: null,
  }),
  resources: field({
    input: resources.optional(),
    stored: storedResources,
    default: defaultResources,
    // The GPU vendor dstack infers, which depends on `image`.
    build: (v: ResourcesSpec | undefined, d) => {
      const spec = v ?? defaultResources();
      // dstack: the DinD image (`docker: true`) runs containers with any accelerator, as an image does.
      spec.gpu.vendor = inferGpuVendor(spec.gpu, { customImage: d.image != null || d.docker === true });
      return spec;
    },
    yaml: resourcesYaml,
  }),
  spot_policy: field({ input: spotPolicy.nullish(), stored: enumOf(SPOT_POLICIES), default: 'on-demand' }),
  retry: field({ input: retry.optional(), stored: storedRetry, default: null, yaml: retryYaml }),
  max_duration: field({
    input: duration('off', 'Stop the run after this long (off: never)').optional(),
    stored: seconds.nullable(),
    default: null,
    yaml: durationYaml,
  }),
  inactivity_duration: field({
    input: duration('off', 'Stop the dev environment after this long without a connection (off: never)').optional(),
    stored: seconds.nullable(),
    default: null,
    yaml: durationYaml,
  }),
  idle_duration: field({
    input: duration('idle', 'Keep an idle instance this long after the run (off: forever)').optional(),
    stored: z.number().int().min(-1).nullable(),
    default: null,
    yaml: durationYaml,
  }),
  utilization_policy: field({
    input: utilizationPolicy.optional(),
    stored: z
      .strictObject({
        min_gpu_utilization: z.number().int().min(0).max(100),
        time_window: seconds.min(MIN_UTILIZATION_TIME_WINDOW),
      })
      .nullable()
      // Configurations stored before the key existed read as unset.
      .default(null),
    default: null,
    yaml: utilizationPolicyYaml,
  }),
  max_price: field({ input: maxPrice.nullish(), stored: z.number().positive().nullable(), default: null }),
  backends: field({ input: backends.nullish(), stored: z.array(z.enum(BACKENDS)).nullable(), default: null }),
  regions: field({ input: strList('Regions to consider').nullish(), stored: names, default: null }),
  instance_types: field({ input: strList('Instance types to consider').nullish(), stored: names, default: null }),
  creation_policy: field({
    input: z
      .enum(CREATION_POLICIES as [string, ...string[]])
      .nullish()
      .meta({ description: 'reuse or reuse-or-create (default)' }),
    stored: enumOf(CREATION_POLICIES),
    default: 'reuse-or-create',
  }),
  fleets: field({ input: strList('Fleets to consider').nullish(), stored: names, default: null }),
};

let schema: z.ZodType | undefined;

export function devEnvironmentSchema() {
  schema ??= inputSchema('dev-environment', DEV_ENVIRONMENT_FIELDS);
  return schema;
}

type Raw = Record<string, unknown>;
type Data = Record<string, any>;
const given = (raw: Raw, key: string) => raw[key] !== undefined && raw[key] !== null;

export type { BuildContext };

/** Rules across fields, checked on what was written (raw) and, when the fields parsed, on their values. */
export function checkDevEnvironment(raw: Raw, data: Data | null, ctx: BuildContext): GrammarIssue[] {
  const issues: GrammarIssue[] = [];
  if (given(raw, 'python') && given(raw, 'image')) {
    issues.push({
      path: ['python'],
      message: `\`python: ${show(raw.python)}\` and \`image: ${show(raw.image)}\` are mutually exclusive: \`python\` picks the default image; drop one of them`,
    });
  }
  if (raw.nvcc === true && given(raw, 'image')) {
    issues.push({
      path: ['nvcc'],
      message: `\`nvcc\` only applies to the default image: install nvcc in your \`image: ${show(raw.image)}\` instead, or drop \`image\``,
    });
  }
  if (raw.docker === true) {
    for (const key of ['image', 'python', 'nvcc'] as const) {
      if (key === 'nvcc' ? raw.nvcc === true : given(raw, key)) {
        issues.push({
          path: [key],
          message: `\`${key}\` and \`docker\` are mutually exclusive: \`docker: true\` runs dstack's Docker-in-Docker image; drop one of them`,
        });
      }
    }
  }
  if (given(raw, 'version') && !given(raw, 'ide')) {
    issues.push({
      path: ['version'],
      message: `\`version: ${show(raw.version)}\` needs \`ide\`: set \`ide: vscode\` (or cursor, windsurf, zed), or remove \`version\``,
    });
  }
  if (raw.ide === 'windsurf' && typeof raw.version === 'string' && !/^.+@[a-f0-9]+$/.test(raw.version)) {
    issues.push({
      path: ['version'],
      message: `invalid Windsurf version "${raw.version}": expected version@commit, e.g. 1.106.0@8951cd3ad688e789573d7f51750d67ae4a0bea7d`,
    });
  }
  if (typeof raw.shell === 'string' && !['sh', 'bash'].includes(raw.shell) && !raw.shell.startsWith('/')) {
    issues.push({ path: ['shell'], message: `invalid shell "${raw.shell}": use sh, bash, or an absolute path like /usr/bin/zsh` });
  }
  const userProblem = typeof raw.user === 'string' ? unixUserProblem(raw.user) : undefined;
  if (userProblem) issues.push({ path: ['user'], message: userProblem });
  if (Array.isArray(raw.fleets)) {
    raw.fleets.forEach((ref, i) => {
      const problem = typeof ref === 'string' ? fleetReferenceProblem(ref) : undefined;
      if (problem) issues.push({ path: ['fleets', i], message: `fleets[${i}]: ${problem}` });
    });
  }
  if (data?.resources) issues.push(...checkImageNeeds(data.resources, given(raw, 'image'), raw.docker === true, raw.resources as Raw));
  if (data?.env) issues.push(...checkEnvReferences(data.env as EnvMapping, raw.env, ctx));
  // A repo's token_env names one of the run's env entries (a secret one, typically).
  (Array.isArray(data?.repos) ? (data.repos as { token_env: string | null }[]) : []).forEach((r, i) => {
    if (r.token_env && !(r.token_env in ((data?.env as EnvMapping | undefined) ?? {}))) {
      issues.push({
        path: ['repos', i, 'token_env'],
        message: `token_env ${show(r.token_env)} is not in \`env\`: add it there, e.g. \`${r.token_env}=\${{ secrets.${r.token_env} }}\``,
      });
    }
  });
  if (data?.registry_auth) {
    for (const field of ['username', 'password'] as const) {
      try {
        interpolateRegistryAuth(data.registry_auth[field], data.env ?? {}, ctx);
      } catch (err) {
        issues.push({ path: ['registry_auth', field], message: `registry_auth.${field}: ${(err as Error).message}` });
      }
    }
  }
  return issues;
}

/** Env values take ${{ secrets.NAME }} only, as in dstack (whose server fills them with its secrets). */
const ENV_NAMESPACES = ['secrets'] as const;

/** References are resolved when the CLI's environment is given (the daemon); else only checked. */
const resolving = (ctx: BuildContext) => ctx.env !== undefined;

/** Each env value's references, at the entry that holds it (an item of the list form, or the mapping's value). */
function checkEnvReferences(env: EnvMapping, written: unknown, ctx: BuildContext): GrammarIssue[] {
  const issues: GrammarIssue[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === null) continue;
    try {
      interpolate(value, { namespaces: ENV_NAMESPACES, resolve: resolving(ctx) ? { secrets: ctx.secrets } : undefined });
    } catch (err) {
      const index = Array.isArray(written) ? written.findIndex((item) => typeof item === 'string' && item.split('=')[0] === name) : -1;
      issues.push({ path: index >= 0 ? ['env', index] : ['env', name], message: `env ${name}: ${(err as Error).message}` });
    }
  }
  return issues;
}

/**
 * A registry_auth value with its references: ${{ env.NAME }} from the configuration's env (its own
 * secrets filled in, as dstack's server would after its CLI put the env value there), then the CLI's
 * environment; ${{ secrets.NAME }} from the daemon's secrets. fromSecrets: a secret is in the value.
 */
function interpolateRegistryAuth(value: string, configEnv: EnvMapping, ctx: BuildContext): { value: string; fromSecrets: boolean } {
  if (!resolving(ctx)) {
    interpolate(value, { namespaces: ['env', 'secrets'] });
    return { value, fromSecrets: false };
  }
  let fromSecrets = false;
  const env = (name: string) => {
    const own = configEnv[name];
    if (own === null || own === undefined) return ctx.env?.[name];
    const r = interpolate(own, { namespaces: ENV_NAMESPACES, resolve: { secrets: ctx.secrets } });
    if (r.refs.length) fromSecrets = true;
    return r.value;
  };
  const r = interpolate(value, { namespaces: ['env', 'secrets'], resolve: { env, secrets: ctx.secrets } });
  return { value: r.value, fromSecrets: fromSecrets || r.refs.some((ref) => ref.namespace === 'secrets') };
}

/**
 * dstack: the default image is built for NVIDIA CUDA on x86, so a GPU of another vendor (AMD, Intel
 * Gaudi, Tenstorrent; TPUs install what they need from PyPI) and an ARM CPU asked for explicitly
 * need an `image`. The vendors are the one given, else those of every known name (unknown names pass);
 * an ARM GPU host (GH200) is not refused here: the run asks for x86 and finds no offer. `docker:
 * true` runs dstack's DinD image, which takes any accelerator but is x86 only.
 */
function checkImageNeeds(spec: ResourcesSpec, customImage: boolean, docker: boolean, written: Raw): GrammarIssue[] {
  if (customImage) return [];
  if (docker) {
    // The DinD image runs containers with any accelerator, but it is x86 only.
    if (spec.cpu.arch !== 'arm') return [];
    return [
      {
        path: ['resources', 'cpu'],
        message: `\`docker: true\` is not supported on ARM CPUs (cpu: ${show(written.cpu)}): the DinD image is x86 only`,
      },
    ];
  }
  const issues: GrammarIssue[] = [];
  const vendors = gpuVendorsNeedingImage(spec.gpu);
  if (vendors.length) {
    issues.push({
      path: ['resources', 'gpu'],
      message: `\`image\` is required for ${vendors.join(' and ')} GPUs (gpu: ${show(written.gpu)}): the default image is built for NVIDIA CUDA`,
    });
  }
  if (spec.cpu.arch === 'arm') {
    issues.push({
      path: ['resources', 'cpu'],
      message: `\`image\` is required on ARM CPUs (cpu: ${show(written.cpu)}): the default image is x86 only`,
    });
  }
  return issues;
}

function gpuVendorsNeedingImage(gpu: ResourcesSpec['gpu']): string[] {
  if (gpu.count.max === 0) return [];
  const vendors = new Set<string>(gpu.vendor ? [gpu.vendor] : (gpu.name ?? []).map(vendorOfGpuName).filter((x) => x !== null));
  vendors.delete('nvidia');
  vendors.delete('google');
  return [...vendors].sort();
}

export function buildDevEnvironment(d: Data, ctx: BuildContext): DevEnvironmentConfiguration {
  return buildFrom('dev-environment', DEV_ENVIRONMENT_FIELDS, d, ctx);
}
