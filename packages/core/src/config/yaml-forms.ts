// How normalized values are written back in dstack's grammar (toYaml, field tables): durations as
// `2h` or `off`, sizes as `8GB`, ranges as `1..4`, env as NAME=VALUE, ports as `8000:8080`.
import { formatDuration } from '../duration';
import { formatGB } from '../resources/memory';
import { formatRange } from '../resources/range';
import type { GpuSpec, ResourcesSpec } from '../resources/types';
import type {
  EnvMapping,
  InstanceMount,
  PortMapping,
  RetryPolicy,
  SshConfig,
  SshHost,
  SshProxyJump,
  UtilizationPolicy,
  VolumeMount,
} from './types';

export function envYaml(env: EnvMapping): string[] {
  return Object.entries(env).map(([k, v]) => (v === null ? k : `${k}=${v}`));
}

export function portYaml(p: PortMapping): number | string {
  if (p.local_port === p.container_port) return p.container_port;
  return `${p.local_port ?? '*'}:${p.container_port}`;
}

export function volumeYaml(m: VolumeMount | InstanceMount): unknown {
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

export function retryYaml(r: RetryPolicy | null): unknown {
  return r && { on_events: r.on_events, duration: formatDuration(r.duration) };
}

export function utilizationPolicyYaml(u: UtilizationPolicy | null): unknown {
  return u && { min_gpu_utilization: u.min_gpu_utilization, time_window: formatDuration(u.time_window) };
}

export function durationYaml(seconds: number | null): string | null {
  if (seconds === null) return null;
  return seconds === -1 ? 'off' : formatDuration(seconds);
}

export function sshConfigYaml(ssh: SshConfig): Record<string, unknown> {
  return {
    user: ssh.user,
    port: ssh.port,
    identity_file: ssh.identity_file,
    proxy_jump: ssh.proxy_jump && proxyYaml(ssh.proxy_jump),
    hosts: ssh.hosts.map(hostYaml),
    network: ssh.network,
  };
}

function proxyYaml(p: SshProxyJump): Record<string, unknown> {
  return { hostname: p.hostname, port: p.port, user: p.user, identity_file: p.identity_file, host_key: p.host_key };
}

function hostYaml(h: SshHost): unknown {
  const rest = {
    port: h.port,
    user: h.user,
    identity_file: h.identity_file,
    proxy_jump: h.proxy_jump && proxyYaml(h.proxy_jump),
    internal_ip: h.internal_ip,
    blocks: h.blocks === 1 ? null : h.blocks,
    host_key: h.host_key,
  };
  return Object.values(rest).every((v) => v === null) ? h.hostname : { hostname: h.hostname, ...rest };
}
