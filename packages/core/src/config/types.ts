import type { DEV_ENVIRONMENT_FIELDS } from './dev-environment';
import type { FLEET_FIELDS } from './fleet';
import type { Built } from './field-table';

export type { Range, ResourcesSpec, CpuSpec, GpuSpec, DiskSpec, CpuArch, GpuVendor } from '../resources/types';

export type Ide = 'vscode' | 'cursor' | 'windsurf' | 'zed';
export type PythonVersion = '3.9' | '3.10' | '3.11' | '3.12' | '3.13' | '3.14';
export type SpotPolicy = 'spot' | 'on-demand' | 'auto';
export type CreationPolicy = 'reuse' | 'reuse-or-create';
export type RetryEvent = 'no-capacity' | 'interruption' | 'error';
export type Placement = 'any' | 'cluster';

export const IDES: readonly Ide[] = ['vscode', 'cursor', 'windsurf', 'zed'];
export const PYTHON_VERSIONS: readonly PythonVersion[] = ['3.9', '3.10', '3.11', '3.12', '3.13', '3.14'];
export const SPOT_POLICIES: readonly SpotPolicy[] = ['spot', 'on-demand', 'auto'];
export const CREATION_POLICIES: readonly CreationPolicy[] = ['reuse', 'reuse-or-create'];
export const RETRY_EVENTS: readonly RetryEvent[] = ['no-capacity', 'interruption', 'error'];
export const PLACEMENTS: readonly Placement[] = ['any', 'cluster'];

/** Backend names dstack knows, plus this project's `local` and `ssh` (here, not in fields.ts: the CLI checks `--backend` without zod). */
export const BACKENDS = [
  'aws',
  'azure',
  'cloudrift',
  'cudo',
  'datacrunch',
  'digitalocean',
  'dstack',
  'gcp',
  'hotaisle',
  'kubernetes',
  'lambda',
  'local',
  'nebius',
  'oci',
  'remote',
  'runpod',
  'slurm',
  'ssh',
  'tensordock',
  'vastai',
  'vultr',
] as const;

/** Default retry duration when `retry` is `true` or has no `duration`: 1h. */
export const DEFAULT_RETRY_DURATION = 3600;

/**
 * Environment variables, in file order. A null value is an entry listed without one (`- HF_TOKEN`, or
 * `HF_TOKEN:` in the mapping form): apply takes it from `-e NAME=VALUE` or the CLI's environment and
 * keeps it sealed, apart from the stored configuration.
 */
export type EnvMapping = Record<string, string | null>;

export interface RegistryAuth {
  username: string;
  /** `"***"` in toJson()/toYaml() output unless secrets are revealed explicitly. */
  password: string;
}

export interface RetryPolicy {
  /** Never empty. `retry: true` means all three. */
  on_events: RetryEvent[];
  /** Seconds; 3600 when not given. */
  duration: number;
}

/** dstack's UtilizationPolicy: the run ends once a GPU stays below `min_gpu_utilization` for `time_window`. */
export interface UtilizationPolicy {
  /** Percent, 0 to 100. */
  min_gpu_utilization: number;
  /** Seconds, at least 300. */
  time_window: number;
}

export interface PortMapping {
  /** The port on the user's machine; null: any free port (`*:8080`). Equal to container_port for `8080`. */
  local_port: number | null;
  container_port: number;
}

/** `name:/path` or {name, path}: a network volume (names: any one of them). */
export interface VolumeMount {
  name: string[];
  path: string;
}

/** One `files` entry (dstack's FilePathMapping): a local file or folder and where it goes in the job. */
export interface FilePathMapping {
  /** As written: relative to the configuration file's folder, absolute, or `~/...` (the local user's home). */
  local_path: string;
  /** Absolute, `~/...` (the job user's home), or relative to /workflow. */
  path: string;
}

/** One `repos` entry (dstack's RepoSpec): a local folder or a git URL, and where it goes in the job. */
export interface RepoSpec {
  /** As written: relative to the configuration file's folder, absolute, or `~/...`. */
  local_path: string | null;
  url: string | null;
  /** The branch to clone; null: the remote's default (a URL), the folder as it is (a local folder). */
  branch: string | null;
  /** The commit to check out after the clone. */
  hash: string | null;
  /** `.` (the working dir, /workflow), absolute, `~/...`, or relative to /workflow. */
  path: string;
  /** What to do when `path` exists and is not empty. */
  if_exists: 'error' | 'skip';
  /** Beyond dstack: the run's env variable that holds an https token for the clone. */
  token_env: string | null;
}

/** `/host/path:/path` or {instance_path, path, optional}: a folder of the instance. */
export interface InstanceMount {
  instance_path: string;
  path: string;
  optional: boolean;
}

/**
 * A dev environment, normalized: the type follows its field table (DEV_ENVIRONMENT_FIELDS in
 * dev-environment.ts, one row per key: what may be written, the value's schema, the default).
 */
export type DevEnvironmentConfiguration = { type: 'dev-environment' } & Built<typeof DEV_ENVIRONMENT_FIELDS>;

export interface SshProxyJump {
  hostname: string;
  /** null: 22. */
  port: number | null;
  user: string;
  identity_file: string;
  /** "type base64": the only key the jump host may present; null: known_hosts and asking decide. */
  host_key: string | null;
}

export interface SshHost {
  hostname: string;
  /** null: ssh_config.port, else 22. */
  port: number | null;
  /** null: ssh_config.user. */
  user: string | null;
  /** null: ssh_config.identity_file (else the SSH agent and default keys). */
  identity_file: string | null;
  /** null: ssh_config.proxy_jump. */
  proxy_jump: SshProxyJump | null;
  /** Private address other hosts of the fleet reach it on. */
  internal_ip: string | null;
  /** Split the host into this many blocks; 'auto': as many as possible. */
  blocks: number | 'auto';
  /** "type base64": the only key the host may present; null: known_hosts and asking decide. */
  host_key: string | null;
}

export interface SshConfig {
  user: string | null;
  port: number | null;
  identity_file: string | null;
  proxy_jump: SshProxyJump | null;
  /** Strings in the file become {hostname, every other field null}; never empty. */
  hosts: SshHost[];
  /** `<ip>/<prefix>` of the cluster network, private. */
  network: string | null;
}

/** A cloud fleet's instance count, as dstack's FleetNodesSpec: min ≤ target ≤ max (null: no limit). */
export interface FleetNodes {
  min: number;
  /** How many instances apply provisions; defaults to min. */
  target: number;
  max: number | null;
}

/**
 * A fleet, normalized: the type follows its field table (FLEET_FIELDS in fleet.ts). An SSH fleet has
 * `ssh_config` (the user's own hosts), a cloud fleet `nodes`; durations in seconds (idle_duration -1: off).
 */
export type FleetConfiguration = { type: 'fleet' } & Built<typeof FLEET_FIELDS>;

export type Configuration = DevEnvironmentConfiguration | FleetConfiguration;
export type ConfigurationType = Configuration['type'];
export const CONFIGURATION_TYPES: readonly ConfigurationType[] = ['dev-environment', 'fleet'];

/** One problem in a configuration file, positioned at the offending node (1-based line and column). */
export interface ConfigError {
  file: string;
  line: number;
  column: number;
  message: string;
}

/** fromSecrets: the keys whose value took a `${{ secrets.NAME }}` (`env.NAME`, `registry_auth.username`, `registry_auth.password`). */
/** warnings: keys dstack deprecated but accepts (`setup`, `home_dir`), each at its place. */
export type ParseResult<T = Configuration> =
  | { ok: true; config: T; fromSecrets?: string[]; warnings?: ConfigError[] }
  | { ok: false; errors: ConfigError[] };
