// `type: dev-environment`: the schema of what may be written, the rules that span fields, and the
// normalized form with dstack's defaults.
import { z } from 'zod';
import { show, type GrammarIssue } from '../resources/errors';
import { vendorOfGpuName } from '../resources/gpu-names';
import { defaultResources, inferGpuVendor } from '../resources/spec';
import type { ResourcesSpec } from '../resources/types';
import { backends, bool, duration, env, maxPrice, ports, python, resources, retry, runName, spotPolicy, str, strList, volumes } from './fields';
import { fleetReferenceProblem, unixUserProblem } from './grammar';
import { interpolate } from './interpolate';
import { CREATION_POLICIES, IDES, type DevEnvironmentConfiguration, type EnvMapping } from './types';

/** dstack keys this project does not implement, with what to do instead. */
export const DEV_ENVIRONMENT_UNSUPPORTED: Record<string, string> = {
  entrypoint: '`entrypoint` is not supported for dev environments: put startup commands in `init`',
  docker: '`docker` (Docker-in-Docker) is not supported by dstack-ts yet: use `privileged: true` with an image that has Docker',
  repos: '`repos` is not supported by dstack-ts yet: the repo of the folder you run `dstack apply` in is uploaded to /workflow',
  files: '`files` is not supported by dstack-ts yet',
  setup: '`setup` is deprecated in dstack: use `init`',
  commands: '`commands` belongs to tasks and services: a dev environment runs `init`',
  priority: '`priority` is not supported by dstack-ts',
  stop_duration: '`stop_duration` is not supported by dstack-ts',
  utilization_policy: '`utilization_policy` is not supported by dstack-ts',
  availability_zones: '`availability_zones` is not supported by dstack-ts',
  reservation: '`reservation` is not supported by dstack-ts',
  single_branch: '`single_branch` is not supported by dstack-ts',
  home_dir: '`home_dir` is deprecated in dstack and has no effect: remove it',
};

let schema: z.ZodType | undefined;

export function devEnvironmentSchema() {
  schema ??= z.strictObject({
    type: z.literal('dev-environment'),
    name: runName.nullish(),
    image: str('The Docker image to run; exclusive with python').nullish(),
    python: python.optional(),
    nvcc: bool('Use the default image with nvcc (CUDA compiler); not with image').nullish(),
    privileged: bool('Run the container in privileged mode').nullish(),
    ide: z.enum(IDES as [string, ...string[]]).nullish().meta({ description: 'vscode, cursor, windsurf or zed; omit for none' }),
    version: str('The IDE version (commit); needs ide').nullish(),
    init: strList('Shell commands to run at startup').nullish(),
    env: env.optional(),
    registry_auth: z
      .strictObject({ username: str('The registry user'), password: str('The password or token; ${{ env.NAME }} allowed') })
      .nullish()
      .meta({ description: 'Credentials of a private Docker registry' }),
    working_dir: str('The working directory inside the container').nullish(),
    user: z.union([z.string(), z.number().int().nonnegative()]).nullish().meta({ description: 'user[:group] inside the container' }),
    shell: str('sh, bash, or an absolute path').nullish(),
    ports: ports.optional(),
    volumes: volumes.optional(),
    resources: resources.optional(),
    spot_policy: spotPolicy.nullish(),
    retry: retry.optional(),
    max_duration: duration('off', 'Stop the run after this long (off: never)').optional(),
    inactivity_duration: duration('off', 'Stop the dev environment after this long without a connection (off: never)').optional(),
    idle_duration: duration('idle', 'Keep an idle instance this long after the run (off: forever)').optional(),
    max_price: maxPrice.nullish(),
    backends: backends.nullish(),
    regions: strList('Regions to consider').nullish(),
    instance_types: strList('Instance types to consider').nullish(),
    creation_policy: z.enum(CREATION_POLICIES as [string, ...string[]]).nullish().meta({ description: 'reuse or reuse-or-create (default)' }),
    fleets: strList('Fleets to consider').nullish(),
  });
  return schema;
}

type Raw = Record<string, unknown>;
type Data = Record<string, any>;
const given = (raw: Raw, key: string) => raw[key] !== undefined && raw[key] !== null;

export interface BuildContext {
  /** The CLI's environment for ${{ env.NAME }}; undefined: keep references as written. */
  env?: Record<string, string | undefined>;
}

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
    issues.push({ path: ['nvcc'], message: `\`nvcc\` only applies to the default image: install nvcc in your \`image: ${show(raw.image)}\` instead, or drop \`image\`` });
  }
  if (given(raw, 'version') && !given(raw, 'ide')) {
    issues.push({ path: ['version'], message: `\`version: ${show(raw.version)}\` needs \`ide\`: set \`ide: vscode\` (or cursor, windsurf, zed), or remove \`version\`` });
  }
  if (raw.ide === 'windsurf' && typeof raw.version === 'string' && !/^.+@[a-f0-9]+$/.test(raw.version)) {
    issues.push({ path: ['version'], message: `invalid Windsurf version "${raw.version}": expected version@commit, e.g. 1.106.0@8951cd3ad688e789573d7f51750d67ae4a0bea7d` });
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
  if (data?.resources) issues.push(...checkImageNeeds(data.resources, given(raw, 'image'), raw.resources as Raw));
  if (data?.registry_auth) {
    for (const field of ['username', 'password'] as const) {
      try {
        interpolate(data.registry_auth[field], ctx.env && lookupIn(data.env ?? {}, ctx.env));
      } catch (err) {
        issues.push({ path: ['registry_auth', field], message: `registry_auth.${field}: ${(err as Error).message}` });
      }
    }
  }
  return issues;
}

/**
 * dstack: the default image is built for NVIDIA CUDA on x86, so a GPU of another vendor (AMD, Intel
 * Gaudi, Tenstorrent; TPUs install what they need from PyPI) and an ARM CPU asked for explicitly
 * need an `image`. The vendors are the one given, else those of every known name (unknown names pass);
 * an ARM GPU host (GH200) is not refused here: the run asks for x86 and finds no offer.
 */
function checkImageNeeds(spec: ResourcesSpec, customImage: boolean, written: Raw): GrammarIssue[] {
  if (customImage) return [];
  const issues: GrammarIssue[] = [];
  const vendors = gpuVendorsNeedingImage(spec.gpu);
  if (vendors.length) {
    issues.push({
      path: ['resources', 'gpu'],
      message: `\`image\` is required for ${vendors.join(' and ')} GPUs (gpu: ${show(written.gpu)}): the default image is built for NVIDIA CUDA`,
    });
  }
  if (spec.cpu.arch === 'arm') {
    issues.push({ path: ['resources', 'cpu'], message: `\`image\` is required on ARM CPUs (cpu: ${show(written.cpu)}): the default image is x86 only` });
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

/** The configuration's env values first, then the CLI's environment. */
function lookupIn(configEnv: EnvMapping, cliEnv: Record<string, string | undefined>) {
  return (name: string) => configEnv[name] ?? cliEnv[name];
}

export function buildDevEnvironment(d: Data, ctx: BuildContext): DevEnvironmentConfiguration {
  const env: EnvMapping = d.env ?? {};
  const spec: ResourcesSpec = d.resources ?? defaultResources();
  spec.gpu.vendor = inferGpuVendor(spec.gpu, { customImage: d.image != null });
  const lookup = ctx.env && lookupIn(env, ctx.env);
  return {
    type: 'dev-environment',
    name: d.name ?? null,
    image: d.image ?? null,
    python: d.python ?? null,
    nvcc: d.nvcc ?? null,
    privileged: d.privileged ?? false,
    ide: d.ide ?? null,
    version: d.version ?? null,
    init: d.init ?? [],
    env,
    registry_auth: d.registry_auth
      ? { username: interpolate(d.registry_auth.username, lookup).value, password: interpolate(d.registry_auth.password, lookup).value }
      : null,
    working_dir: d.working_dir ?? null,
    user: d.user === undefined || d.user === null ? null : String(d.user),
    shell: d.shell ?? null,
    ports: d.ports ?? [],
    volumes: d.volumes ?? [],
    resources: spec,
    spot_policy: d.spot_policy ?? 'on-demand',
    retry: d.retry ?? null,
    max_duration: d.max_duration ?? null,
    inactivity_duration: d.inactivity_duration ?? null,
    idle_duration: d.idle_duration ?? null,
    max_price: d.max_price ?? null,
    backends: d.backends ?? null,
    regions: d.regions ?? null,
    instance_types: d.instance_types ?? null,
    creation_policy: d.creation_policy ?? 'reuse-or-create',
    fleets: d.fleets ?? null,
  };
}
