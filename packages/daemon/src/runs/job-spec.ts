// The agent's JobSpec for a run: image (dstack's base image for the python version unless `image`;
// the DinD image with `docker: true`), env (the configuration's, the secrets, dstack's system
// variables), init (after the deprecated `setup`), IDE, the user's key.
import { SshServerLimits, type JobFile, type JobLimits, type JobSpec } from '@dstack/core/gen/agent';
import type { DevEnvironmentConfiguration } from '@dstack/core/config/index';
import type { Offer } from '@dstack/core/gen/daemon';
import { instanceMounts } from '@dstack/core/config/volumes';
import { execFileSync } from 'node:child_process';
import { DEFAULT_DIND_IMAGE } from '../config';
import { gitReposFor } from './job-files';
import { hostVolumeMounts, volumeRefusal, type VolumeCatalog } from '../volumes/attach';

/** dstack's base image tag version, as in `dstackai/base:py3.11-0.7-cuda-12.1`. */
export const BASE_IMAGE_VERSION = '0.7';
const BASE_IMAGE_PYTHONS = ['3.9', '3.10', '3.11', '3.12', '3.13'];
const FALLBACK_PYTHON = '3.12';

/** dstack's base image for a Python version; the `-devel` variant carries nvcc. */
export function defaultBaseImage(python: string, nvcc: boolean): string {
  return `dstackai/base:py${python}-${BASE_IMAGE_VERSION}-cuda-12.1${nvcc ? '-devel' : ''}`;
}

let localPython: string | undefined;

/** As dstack does: the Python version of the user's machine when a base image has it, else 3.12. */
export function defaultPython(): string {
  if (localPython === undefined) {
    try {
      const v = execFileSync('python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], {
        encoding: 'utf8',
        timeout: 5000,
      }).trim();
      localPython = BASE_IMAGE_PYTHONS.includes(v) ? v : FALLBACK_PYTHON;
    } catch {
      localPython = FALLBACK_PYTHON;
    }
  }
  return localPython;
}

/** The job's image: `image`, else the DinD image with `docker: true` (as dstack), else the base image. */
export function imageFor(config: DevEnvironmentConfiguration, baseImageOverride: string | null, dindImage = DEFAULT_DIND_IMAGE): string {
  if (config.image) return config.image;
  if (config.docker) return dindImage;
  if (baseImageOverride) return baseImageOverride;
  return defaultBaseImage(config.python ?? defaultPython(), config.nvcc === true);
}

export interface JobSpecInput {
  jobId: string;
  runId: string;
  runName: string;
  repoId: string;
  /** Every secret filled in. */
  config: DevEnvironmentConfiguration;
  /** The daemon's volumes, where the configuration's network volumes are looked up; left out: none exist. */
  volumes?: VolumeCatalog;
  /** Env names whose values are secrets (RunSecrets.env): they go in the spec's secret_env. */
  secretEnvNames: readonly string[];
  offer: Offer;
  /** The host GPUs the job gets (a split fleet host's blocks); empty: any of the offer's. */
  gpuIndices?: number[];
  baseImage: string | null;
  /** config.yml's `dind_image` (the image of `docker: true`); default dstack's. */
  dindImage?: string;
  publicKey: string;
  ideVersion: string;
  expectCode: boolean;
  home: string;
  /** config.yml's `ssh_server:`; what it leaves out is the agent's default. */
  sshServer?: Partial<SshServerLimits>;
  /** How long the run's earlier attempts ran (max_duration counts them all). */
  ranMs?: number;
  /** `files:` and `repos:` local folders as read on this machine (job-files.ts readJobFiles). */
  files?: JobFile[];
}

/**
 * The limits the agent enforces: while no daemon watches it, the run's, max_duration less what earlier
 * attempts ran; the utilization_policy always (the samples it is judged on are the agent's).
 */
export function jobLimitsFor(
  config: Pick<DevEnvironmentConfiguration, 'inactivity_duration' | 'max_duration' | 'utilization_policy'>,
  ranMs = 0,
): JobLimits {
  const inactivity = config.inactivity_duration;
  const max = config.max_duration;
  const policy = config.utilization_policy;
  return {
    inactivityDurationSeconds: inactivity !== null && inactivity > 0 ? Math.floor(inactivity) : 0,
    maxRunningSeconds: max !== null && max > 0 ? Math.max(1, Math.floor(max - ranMs / 1000)) : 0,
    utilizationPolicy: policy ? { minGpuUtilization: policy.min_gpu_utilization, timeWindowSeconds: policy.time_window } : undefined,
  };
}

/** How many of the offer's GPUs the job gets: all it has, or the spec's maximum when lower. */
export function gpuCountFor(config: DevEnvironmentConfiguration, offer: Offer): number {
  const has = (offer.resources?.gpus ?? []).reduce((n, g) => n + (g.count || 1), 0);
  const max = config.resources.gpu.count.max;
  return max === null ? has : Math.min(has, max);
}

/**
 * The instance volumes as the agent's mounts, and the network volumes the instance has at a host
 * path (Lambda's /lambda/nfs/NAME), bound the same way. A network volume the offer cannot have never
 * gets here (the planner leaves such offers out); should one, the spec is refused rather than sent
 * without it.
 */
export function mountsFor(
  config: Pick<DevEnvironmentConfiguration, 'volumes'>,
  catalog: VolumeCatalog | undefined,
  offer?: Pick<Offer, 'backend' | 'region'>,
): JobSpec['mounts'] {
  const refusal = volumeRefusal(catalog, config.volumes);
  if (refusal) throw new Error(refusal);
  const own = instanceMounts(config.volumes).map((m) => ({
    source: m.instance_path,
    target: m.path,
    readOnly: false,
    optional: m.optional,
  }));
  return offer ? [...own, ...hostVolumeMounts(catalog, config.volumes, offer)] : own;
}

export function buildJobSpec(i: JobSpecInput): JobSpec {
  const { config } = i;
  const indices = (i.gpuIndices ?? []).slice(0, gpuCountFor(config, i.offer));
  const gpus = indices.length || gpuCountFor(config, i.offer);
  const env: Record<string, string> = {};
  const secretEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(config.env)) {
    if (v === null) continue;
    if (i.secretEnvNames.includes(k)) secretEnv[k] = v;
    else env[k] = v;
  }
  env.DSTACK_RUN_NAME = i.runName;
  env.DSTACK_REPO_ID = i.repoId;
  env.DSTACK_GPUS_NUM = String(gpus);
  const vendor = i.offer.resources?.gpus?.[0]?.vendor ?? '';
  return {
    jobId: i.jobId,
    runName: i.runName,
    repoId: i.repoId,
    // The agent decides: Docker when an engine answers, else the host.
    runtime: '',
    image: imageFor(config, i.baseImage, i.dindImage),
    registryAuth: config.registry_auth ? { username: config.registry_auth.username, password: config.registry_auth.password } : undefined,
    // dstack: `docker: true` overrides `privileged`; the deprecated `setup` runs right before `init`.
    privileged: config.privileged || config.docker === true,
    docker: config.docker === true,
    env,
    init: [...config.setup, ...config.init],
    workingDir: config.working_dir ?? '',
    user: config.user ?? '',
    shell: config.shell ?? '',
    gpus: { count: gpus, all: false, vendor: gpus ? vendor : '', indices },
    shmSizeGb: config.resources.shm_size ?? 0,
    authorizedKeys: [i.publicKey],
    ide: { name: config.ide ?? '', version: config.version ?? i.ideVersion },
    expectCode: i.expectCode,
    labels: { 'ai.dstack.run-name': i.runName, 'ai.dstack.run-id': i.runId, 'ai.dstack.home': i.home },
    sshPort: 0,
    mounts: mountsFor(config, i.volumes, i.offer),
    sshServer: SshServerLimits.fromPartial(i.sshServer ?? {}),
    secretEnv,
    limits: jobLimitsFor(config, i.ranMs),
    files: i.files ?? [],
    repos: gitReposFor(config),
  };
}

/** The IDE link for a run, or '' without an IDE. */
export function ideLink(config: Pick<DevEnvironmentConfiguration, 'ide'>, alias: string, workingDir: string): string {
  const dir = workingDir || '/workflow';
  switch (config.ide) {
    case 'vscode':
      return `vscode://vscode-remote/ssh-remote+${alias}${dir}`;
    case 'cursor':
      return `cursor://vscode-remote/ssh-remote+${alias}${dir}`;
    case 'windsurf':
      return `windsurf://vscode-remote/ssh-remote+${alias}${dir}`;
    case 'zed':
      return `zed://ssh/${alias}${dir}`;
    default:
      return '';
  }
}
