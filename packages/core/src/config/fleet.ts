// `type: fleet`: SSH fleets (the user's own hosts, `ssh_config`) and cloud fleets (`nodes`): the field
// table (what may be written, the normalized value with its default, how it is built and printed)
// and the rules that span fields.
import { z } from 'zod';
import { parseHostKey } from '../host-key';
import { GrammarError, asMapping, show, unknownKeyMessage, type GrammarIssue } from '../resources/errors';
import { defaultResources } from '../resources/spec';
import { formatRange, parseCount } from '../resources/range';
import { BACKENDS, backends, duration, env, leaf, maxPrice, resources, retry, runName, spotPolicy, str, strList } from './fields';
import { buildFrom, field, inputSchema } from './field-table';
import {
  blocks as storedBlocks,
  enumOf,
  env as storedEnv,
  fleetNodes,
  names,
  resources as storedResources,
  retry as storedRetry,
  runName as storedRunName,
  sshConfig as storedSshConfig,
} from './stored';
import {
  PLACEMENTS,
  SPOT_POLICIES,
  type FleetConfiguration,
  type FleetNodes,
  type SshConfig,
  type SshHost,
  type SshProxyJump,
} from './types';
import { durationYaml, envYaml, resourcesYaml, retryYaml, sshConfigYaml } from './yaml-forms';

export const FLEET_UNSUPPORTED: Record<string, string> = {
  reservation: '`reservation` is not supported by dstack-ts',
  availability_zones: '`availability_zones` is not supported by dstack-ts',
  tags: '`tags` is not supported by dstack-ts',
  termination_policy: '`termination_policy` is deprecated in dstack: use `idle_duration`',
  termination_idle_time: '`termination_idle_time` is deprecated in dstack: use `idle_duration`',
};

const port = z.number().int().min(1).max(65535).meta({ description: 'The SSH port (default 22)' });
const blocks = z
  .union([z.literal('auto'), z.number().int().min(1)])
  .meta({ description: 'Split each host into this many blocks, or auto' });

/** "ssh-ed25519 AAAA..." as in the host's .pub file (a comment after the key is dropped). */
export function parseHostKeyField(v: unknown): string {
  if (typeof v !== 'string') throw new GrammarError(`expected a host key like "ssh-ed25519 AAAA...", got ${show(v)}`);
  try {
    const key = parseHostKey(v);
    return `${key.type} ${key.base64}`;
  } catch (err) {
    throw new GrammarError((err as Error).message);
  }
}

const hostKey = (description: string) =>
  leaf(parseHostKeyField, description, {
    type: 'string',
    pattern: '^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}( .*)?$',
  });

const proxyJump = z
  .strictObject({
    hostname: str('The jump host'),
    port: port.nullish(),
    user: str('The user on the jump host'),
    identity_file: str('The private key for the jump host'),
    host_key: hostKey('The jump host\'s SSH host key ("ssh-ed25519 AAAA..."): checked on every connection instead of asking').optional(),
  })
  .meta({ description: 'A jump host to reach the hosts through' });

const host = z.union([
  z.string().min(1).meta({ description: 'A hostname or IP address' }),
  z.strictObject({
    hostname: str('The hostname or IP address'),
    port: port.nullish(),
    user: str('The user to log in as').nullish(),
    identity_file: str('The private key to log in with').nullish(),
    proxy_jump: proxyJump.nullish(),
    internal_ip: str('The private address other hosts reach it on').nullish(),
    blocks: blocks.nullish(),
    host_key: hostKey('The host\'s SSH host key ("ssh-ed25519 AAAA..."): checked on every connection instead of asking').optional(),
  }),
]);

/** Keys a cloud fleet uses and an SSH fleet may not have (see checkFleet): left out of an SSH fleet's YAML. */
const cloudOnly =
  <V>(yaml: (v: V) => unknown = (v) => v) =>
  (v: V, c: Record<string, unknown>): unknown =>
    c.ssh_config ? null : yaml(v);

/**
 * Every key of a fleet: what may be written, the normalized value (its type is FleetConfiguration),
 * the default, and how it is built and written back. A new key is one row here (plus its use).
 */
export const FLEET_FIELDS = {
  name: field({ input: runName.nullish(), stored: storedRunName, default: null }),
  env: field({ input: env.optional(), stored: storedEnv, default: () => ({}), yaml: envYaml }),
  ssh_config: field({
    input: z
      .strictObject({
        user: str('The user to log in as on every host').nullish(),
        port: port.nullish(),
        identity_file: str('The private key for every host').nullish(),
        proxy_jump: proxyJump.nullish(),
        hosts: z.array(host).meta({ description: 'Hostnames, or objects that override user, port, identity_file, proxy_jump' }),
        network: str('The cluster network, <ip>/<prefix>').nullish(),
      })
      .nullish()
      .meta({ description: 'An SSH fleet: your own hosts' }),
    stored: storedSshConfig.nullable(),
    default: null,
    build: (v: Data | undefined) => (v ? buildSshConfig(v) : null),
    yaml: (ssh) => ssh && sshConfigYaml(ssh),
  }),
  nodes: field({
    input: leaf(parseFleetNodes, 'A cloud fleet: how many instances (2, 1..4, or {min, target, max})', {
      anyOf: [
        { type: 'integer', minimum: 0 },
        { type: 'string' },
        {
          type: 'object',
          additionalProperties: false,
          properties: {
            min: { type: 'integer', minimum: 0 },
            target: { type: 'integer', minimum: 0 },
            max: { type: 'integer', minimum: 0 },
          },
        },
      ],
    }).optional(),
    stored: fleetNodes.nullable(),
    default: null,
    yaml: (n) => n && (n.target === n.min ? formatRange(n) : n),
  }),
  placement: field({
    input: z
      .enum(PLACEMENTS as [string, ...string[]])
      .nullish()
      .meta({ description: 'any (default) or cluster' }),
    stored: enumOf(PLACEMENTS),
    default: 'any',
  }),
  blocks: field({ input: blocks.nullish(), stored: storedBlocks, default: 1, yaml: (b) => (b === 1 ? null : b) }),
  resources: field({ input: resources.optional(), stored: storedResources, default: defaultResources, yaml: cloudOnly(resourcesYaml) }),
  spot_policy: field({ input: spotPolicy.nullish(), stored: enumOf(SPOT_POLICIES), default: 'on-demand', yaml: cloudOnly() }),
  retry: field({ input: retry.optional(), stored: storedRetry, default: null, yaml: cloudOnly(retryYaml) }),
  idle_duration: field({
    input: duration('idle', 'Terminate instances idle this long (off: never; default 3d)').optional(),
    stored: z.number().int().min(-1).nullable(),
    default: null,
    yaml: cloudOnly(durationYaml),
  }),
  max_price: field({ input: maxPrice.nullish(), stored: z.number().positive().nullable(), default: null, yaml: cloudOnly() }),
  backends: field({ input: backends.nullish(), stored: z.array(z.enum(BACKENDS)).nullable(), default: null, yaml: cloudOnly() }),
  regions: field({ input: strList('Regions to consider').nullish(), stored: names, default: null, yaml: cloudOnly() }),
  instance_types: field({ input: strList('Instance types to consider').nullish(), stored: names, default: null, yaml: cloudOnly() }),
};

let schema: z.ZodType | undefined;

export function fleetSchema() {
  schema ??= inputSchema('fleet', FLEET_FIELDS);
  return schema;
}

/**
 * `nodes` as dstack's FleetNodesSpec: `2` (2 exactly), `1..4`, `..2`, `1..` (target = min, min
 * defaults to 0), or {min, target, max} with min ≤ target ≤ max.
 */
export function parseFleetNodes(v: unknown): FleetNodes {
  let min: number | null;
  let target: number | null = null;
  let max: number | null;
  if (typeof v === 'string' && v.includes('..')) {
    const parts = v.replace(/\s+/g, '').split('..');
    if (parts.length !== 2) throw new GrammarError(`invalid nodes ${show(v)}: write N, MIN..MAX, MIN.., ..MAX or {min, target, max}`);
    min = parts[0] === '' ? null : countIn(parts[0], v);
    max = parts[1] === '' ? null : countIn(parts[1], v);
  } else if (typeof v === 'string' || typeof v === 'number') {
    min = max = countIn(v, v);
  } else if (asMapping(v)) {
    const o = v as Record<string, unknown>;
    const unknown = Object.keys(o).filter((k) => !['min', 'target', 'max'].includes(k));
    if (unknown.length) throw new GrammarError(unknownKeyMessage(unknown[0], ['min', 'target', 'max'], 'nodes'), [unknown[0]], true);
    const field = (k: string) => (o[k] === undefined || o[k] === null ? null : countIn(o[k], o[k], k));
    [min, target, max] = [field('min'), field('target'), field('max')];
  } else {
    throw new GrammarError(`invalid nodes ${show(v)}: write N, MIN..MAX or {min, target, max}`);
  }
  const nodes: FleetNodes = { min: min ?? 0, target: target ?? min ?? 0, max };
  const problem =
    nodes.target < nodes.min
      ? 'target is less than min'
      : nodes.max !== null && nodes.max < nodes.min
        ? 'max is less than min'
        : nodes.max !== null && nodes.max < nodes.target
          ? 'max is less than target'
          : null;
  if (problem) throw new GrammarError(`invalid nodes ${showNodes(v)}: ${problem}`);
  return nodes;
}

function countIn(item: unknown, whole: unknown, key?: string): number {
  try {
    return parseCount(item);
  } catch {
    if (key) throw new GrammarError(`invalid ${key} ${show(item)}: expected a whole number ≥ 0`, [key]);
    throw new GrammarError(`invalid nodes ${showNodes(whole)}: ${show(item)} is not a whole number ≥ 0`);
  }
}

function showNodes(v: unknown): string {
  const o = asMapping(v);
  if (!o) return show(v);
  return `{${Object.entries(o)
    .map(([k, x]) => `${k}: ${typeof x === 'string' ? JSON.stringify(x) : String(x)}`)
    .join(', ')}}`;
}

/** dstack's backend-fleet keys: they choose and shape cloud instances, so an SSH fleet cannot have them. */
const CLOUD_FLEET_KEYS = [
  'resources',
  'backends',
  'regions',
  'instance_types',
  'spot_policy',
  'retry',
  'max_price',
  'idle_duration',
] as const;

type Raw = Record<string, any>;
type Data = Record<string, any>;
const given = (o: Raw | undefined | null, key: string) => o != null && o[key] !== undefined && o[key] !== null;

export function checkFleet(raw: Raw, data: Data | null): GrammarIssue[] {
  const issues: GrammarIssue[] = [];
  const ssh = raw.ssh_config;
  if (!given(raw, 'ssh_config') && !given(raw, 'nodes')) {
    issues.push({ path: ['type'], message: 'a fleet needs `ssh_config` (your own hosts) or `nodes` (cloud instances)' });
  }
  if (given(raw, 'ssh_config') && given(raw, 'nodes')) {
    issues.push({
      path: ['nodes'],
      message: `\`nodes: ${show(raw.nodes)}\` is for cloud fleets; an SSH fleet has one instance per host: remove \`nodes\``,
    });
  }
  if (given(raw, 'ssh_config')) {
    for (const key of CLOUD_FLEET_KEYS.filter((k) => given(raw, k))) {
      issues.push({
        path: [key],
        atKey: true,
        message: `\`${key}\` is for cloud fleets (\`nodes\`); an SSH fleet uses its hosts as they are: remove \`${key}\``,
      });
    }
  }
  if (!given(raw, 'ssh_config') && given(raw, 'env') && !(Array.isArray(raw.env) && raw.env.length === 0)) {
    issues.push({ path: ['env'], message: '`env` is supported for SSH fleets (`ssh_config`) only' });
  }
  if (given(raw, 'ssh_config') && ssh && typeof ssh === 'object' && Array.isArray(ssh.hosts)) {
    if (ssh.hosts.length === 0) issues.push({ path: ['ssh_config', 'hosts'], message: '`hosts` is empty: list at least one host' });
    const seen = new Map<string, number>();
    ssh.hosts.forEach((h: unknown, i: number) => {
      const o: Raw | null = typeof h === 'string' ? { hostname: h } : h && typeof h === 'object' ? (h as Raw) : null;
      if (!o || typeof o.hostname !== 'string') return;
      const key = `${o.hostname}:${o.port ?? ssh.port ?? 22}`;
      if (seen.has(key))
        issues.push({ path: ['ssh_config', 'hosts', i], message: `host ${key} is listed twice (first at item ${seen.get(key)! + 1})` });
      else seen.set(key, i);
      if (!given(o, 'user') && !given(ssh, 'user')) {
        issues.push({
          path: ['ssh_config', 'hosts', i],
          message: `no user for host ${o.hostname}: set \`ssh_config.user\` or the host's \`user\``,
        });
      }
      if (typeof o.internal_ip === 'string' && !isPrivateIp(o.internal_ip)) {
        issues.push({
          path: ['ssh_config', 'hosts', i, 'internal_ip'],
          message: `internal_ip ${o.internal_ip} is not a private IP address`,
        });
      }
    });
  }
  if (typeof ssh?.network === 'string') {
    const [ip, prefix, ...rest] = ssh.network.split('/');
    const bits = Number(prefix);
    const max = ip.includes(':') ? 128 : 32;
    if (rest.length || !Number.isInteger(bits) || bits < 0 || bits > max || !isIp(ip)) {
      issues.push({ path: ['ssh_config', 'network'], message: `invalid network "${ssh.network}": write <ip>/<prefix>, e.g. 10.0.0.0/24` });
    } else if (!isPrivateIp(ip)) {
      issues.push({ path: ['ssh_config', 'network'], message: `network ${ssh.network} is public: a private network is required` });
    }
  }
  void data;
  return issues;
}

export function buildFleet(d: Data): FleetConfiguration {
  return buildFrom('fleet', FLEET_FIELDS, d, {});
}

function buildProxy(p: Data | null | undefined): SshProxyJump | null {
  return p
    ? { hostname: p.hostname, port: p.port ?? null, user: p.user, identity_file: p.identity_file, host_key: p.host_key ?? null }
    : null;
}

function buildSshConfig(s: Data): SshConfig {
  return {
    user: s.user ?? null,
    port: s.port ?? null,
    identity_file: s.identity_file ?? null,
    proxy_jump: buildProxy(s.proxy_jump),
    hosts: (s.hosts as (string | Data)[]).map((h): SshHost => {
      const o = typeof h === 'string' ? { hostname: h } : h;
      return {
        hostname: o.hostname,
        port: o.port ?? null,
        user: o.user ?? null,
        identity_file: o.identity_file ?? null,
        proxy_jump: buildProxy(o.proxy_jump),
        internal_ip: o.internal_ip ?? null,
        blocks: o.blocks ?? 1,
        host_key: o.host_key ?? null,
      };
    }),
    network: s.network ?? null,
  };
}

/** A host with the fleet-wide settings filled in: how to reach it. */
export interface ResolvedSshHost {
  hostname: string;
  port: number;
  user: string;
  /** null: the SSH agent's and the default keys. */
  identity_file: string | null;
  proxy_jump: SshProxyJump | null;
  internal_ip: string | null;
  blocks: number | 'auto';
  /** "type base64": the only key the host may present; null: known_hosts and asking decide. */
  host_key: string | null;
}

/** Each host of an SSH fleet with ssh_config's user, port (22), identity_file and proxy_jump applied. */
export function resolveSshHosts(ssh: SshConfig): ResolvedSshHost[] {
  return ssh.hosts.map((h) => ({
    hostname: h.hostname,
    port: h.port ?? ssh.port ?? 22,
    // Validation guarantees one of the two.
    user: (h.user ?? ssh.user)!,
    identity_file: h.identity_file ?? ssh.identity_file,
    proxy_jump: h.proxy_jump ?? ssh.proxy_jump,
    internal_ip: h.internal_ip,
    blocks: h.blocks,
    host_key: h.host_key,
  }));
}

function isIp(s: string): boolean {
  return parseIpv4(s) !== null || /^[0-9a-f:]+$/i.test(s);
}

function parseIpv4(s: string): number[] | null {
  const parts = s.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return null;
  return parts.map(Number);
}

/** RFC 1918, loopback and link-local for IPv4; unique-local, link-local and loopback for IPv6. */
export function isPrivateIp(s: string): boolean {
  const v4 = parseIpv4(s);
  if (v4) {
    const [a, b] = v4;
    return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || a === 127 || (a === 169 && b === 254);
  }
  const v6 = s.toLowerCase();
  if (!/^[0-9a-f:]+$/.test(v6) || !v6.includes(':')) return false;
  return v6 === '::1' || /^f[cd][0-9a-f]{0,2}:/.test(v6) || /^fe[89ab][0-9a-f]?:/.test(v6);
}
