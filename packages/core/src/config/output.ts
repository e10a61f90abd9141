// The two printed forms of a normalized configuration: toJson (the `--json` output, and what the
// daemon stores) and toYaml (readable, in dstack's own grammar, and valid input again; a dev
// environment's keys come from its field table).
import { stringify } from 'yaml';
import { formatRange } from '../resources/range';
import { DEV_ENVIRONMENT_FIELDS } from './dev-environment';
import { yamlFrom } from './field-table';
import type { Configuration, DevEnvironmentConfiguration, FleetConfiguration, SshHost, SshProxyJump } from './types';
import { durationYaml, envYaml, resourcesYaml, retryYaml } from './yaml-forms';

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

function devEnvironmentYaml(c: DevEnvironmentConfiguration): Record<string, unknown> {
  return yamlFrom(c.type, DEV_ENVIRONMENT_FIELDS, c);
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
