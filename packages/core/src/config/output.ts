// The two printed forms of a normalized configuration: toJson (the `--json` output and what the CLI
// sends to the daemon) and toYaml (readable, in dstack's own grammar, and valid input again).
import { stringify } from 'yaml';
import { formatDuration } from '../duration';
import { formatGB } from '../resources/memory';
import { formatRange } from '../resources/range';
import type { GpuSpec, ResourcesSpec } from '../resources/types';
import type { Configuration, EnvMapping, FleetConfiguration, InstanceMount, PortMapping, RetryPolicy, SshHost, SshProxyJump, VolumeMount } from './types';

export const MASK = '***';

export interface OutputOptions {
  /** Keep registry_auth.password in clear text (default: `"***"`). */
  revealSecrets?: boolean;
}

/** A deep copy of the configuration, plain JSON, with the registry password masked unless revealed. */
export function toJson<T extends Configuration>(config: T, opts: OutputOptions = {}): T {
  const copy = structuredClone(config);
  if (copy.type === 'dev-environment' && copy.registry_auth && !opts.revealSecrets) copy.registry_auth.password = MASK;
  return copy;
}

/** The configuration as YAML in dstack's grammar (defaults written out, unset fields left out). */
export function toYaml(config: Configuration, opts: OutputOptions = {}): string {
  const c = toJson(config, opts);
  const doc = c.type === 'dev-environment' ? devEnvironmentYaml(c) : fleetYaml(c);
  return stringify(dropEmpty(doc), { lineWidth: 0 });
}

function devEnvironmentYaml(c: Extract<Configuration, { type: 'dev-environment' }>): Record<string, unknown> {
  return {
    type: c.type,
    name: c.name,
    image: c.image,
    python: c.python,
    nvcc: c.nvcc,
    privileged: c.privileged,
    ide: c.ide,
    version: c.version,
    init: c.init,
    env: envYaml(c.env),
    registry_auth: c.registry_auth,
    working_dir: c.working_dir,
    user: c.user,
    shell: c.shell,
    ports: c.ports.map(portYaml),
    volumes: c.volumes.map(volumeYaml),
    resources: resourcesYaml(c.resources),
    spot_policy: c.spot_policy,
    retry: retryYaml(c.retry),
    max_duration: durationYaml(c.max_duration),
    inactivity_duration: durationYaml(c.inactivity_duration),
    idle_duration: durationYaml(c.idle_duration),
    max_price: c.max_price,
    backends: c.backends,
    regions: c.regions,
    instance_types: c.instance_types,
    creation_policy: c.creation_policy,
    fleets: c.fleets,
  };
}

function fleetYaml(c: FleetConfiguration): Record<string, unknown> {
  const ssh = c.ssh_config;
  return {
    type: c.type,
    name: c.name,
    env: envYaml(c.env),
    ssh_config: ssh && {
      user: ssh.user,
      port: ssh.port,
      identity_file: ssh.identity_file,
      proxy_jump: ssh.proxy_jump && proxyYaml(ssh.proxy_jump),
      hosts: ssh.hosts.map(hostYaml),
      network: ssh.network,
    },
    nodes: c.nodes && (c.nodes.target === c.nodes.min ? formatRange(c.nodes) : c.nodes),
    placement: c.placement,
    blocks: c.blocks === 1 ? null : c.blocks,
    // Keys of cloud fleets only: an SSH fleet may not have them (see fleet.ts).
    ...(ssh
      ? {}
      : {
          resources: resourcesYaml(c.resources),
          spot_policy: c.spot_policy,
          retry: retryYaml(c.retry),
          idle_duration: durationYaml(c.idle_duration),
          max_price: c.max_price,
          backends: c.backends,
          regions: c.regions,
          instance_types: c.instance_types,
        }),
  };
}

function envYaml(env: EnvMapping): string[] {
  return Object.entries(env).map(([k, v]) => (v === null ? k : `${k}=${v}`));
}

function portYaml(p: PortMapping): number | string {
  if (p.local_port === p.container_port) return p.container_port;
  return `${p.local_port ?? '*'}:${p.container_port}`;
}

function volumeYaml(m: VolumeMount | InstanceMount): unknown {
  if ('instance_path' in m) return m.optional ? m : `${m.instance_path}:${m.path}`;
  return m.name.length === 1 ? `${m.name[0]}:${m.path}` : m;
}

export function resourcesYaml(r: ResourcesSpec): Record<string, unknown> {
  return {
    cpu: `${r.cpu.arch ? `${r.cpu.arch}:` : ''}${formatRange(r.cpu.count)}`,
    memory: formatRange(r.memory, formatGB),
    shm_size: r.shm_size === null ? null : formatGB(r.shm_size),
    disk: formatRange(r.disk.size, formatGB),
    gpu: gpuYaml(r.gpu),
  };
}

function gpuYaml(g: GpuSpec): unknown {
  if (g.total_memory || g.compute_capability) {
    return {
      vendor: g.vendor,
      name: g.name,
      count: formatRange(g.count),
      memory: g.memory && formatRange(g.memory, formatGB),
      total_memory: g.total_memory && formatRange(g.total_memory, formatGB),
      compute_capability: g.compute_capability,
    };
  }
  const tokens = [g.vendor, g.name?.join(','), g.memory && formatRange(g.memory, formatGB), formatRange(g.count)];
  return tokens.filter(Boolean).join(':');
}

function retryYaml(r: RetryPolicy | null): unknown {
  return r && { on_events: r.on_events, duration: formatDuration(r.duration) };
}

function durationYaml(seconds: number | null): string | null {
  if (seconds === null) return null;
  return seconds === -1 ? 'off' : formatDuration(seconds);
}

function proxyYaml(p: SshProxyJump): Record<string, unknown> {
  return { hostname: p.hostname, port: p.port, user: p.user, identity_file: p.identity_file, host_key: p.host_key };
}

function hostYaml(h: SshHost): unknown {
  const rest = { port: h.port, user: h.user, identity_file: h.identity_file, proxy_jump: h.proxy_jump && proxyYaml(h.proxy_jump), internal_ip: h.internal_ip, blocks: h.blocks === 1 ? null : h.blocks, host_key: h.host_key };
  return Object.values(rest).every((v) => v === null) ? h.hostname : { hostname: h.hostname, ...rest };
}

/** Leaves out nulls, empty lists and empty mappings, recursively. */
function dropEmpty(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropEmpty);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const y = dropEmpty(x);
    if (y === null || y === undefined) continue;
    if (Array.isArray(y) && y.length === 0) continue;
    if (typeof y === 'object' && !Array.isArray(y) && Object.keys(y).length === 0) continue;
    out[k] = y;
  }
  return out;
}
