import { describe, expect, it } from 'vitest';
import { resolveSshHosts } from './fleet';
import { parseNormalizedConfiguration } from './normalized';
import { toJson, toYaml } from './output';
import { parseConfiguration } from './parse';
import { fleet, parseErrors } from './test-helpers';
import type { FleetConfiguration } from './types';

const SSH = 'ssh_config:\n  user: ubuntu\n  identity_file: ~/.ssh/id_rsa\n  hosts:\n';

describe('fleet: what a valid file means', () => {
  it('an SSH fleet of plain hostnames', () => {
    const c = fleet(`name: my-fleet\n${SSH}    - 3.255.177.51\n    - 3.255.177.52\n`);
    expect(c.name).toBe('my-fleet');
    expect(c.ssh_config!.hosts.map((h) => h.hostname)).toEqual(['3.255.177.51', '3.255.177.52']);
    expect(c.ssh_config!.hosts[0]).toEqual({
      hostname: '3.255.177.51',
      port: null,
      user: null,
      identity_file: null,
      proxy_jump: null,
      internal_ip: null,
      blocks: 1,
      host_key: null,
    });
    expect(c.placement).toBe('any');
    expect(c.nodes).toBeNull();
  });

  it.each<[string, (c: FleetConfiguration) => unknown, unknown]>([
    [`${SSH}    - a\nplacement: cluster`, (c) => c.placement, 'cluster'],
    ['nodes: 2\nidle_duration: 3d', (c) => c.idle_duration, 259_200],
    ['nodes: 2\nidle_duration: off', (c) => c.idle_duration, -1],
    [`${SSH}    - a\nenv:\n  - A=1\n  - B`, (c) => c.env, { A: '1', B: null }],
    [
      `${SSH}    - hostname: a\n      port: 2222\n      user: root\n      internal_ip: 10.0.0.5`,
      (c) => c.ssh_config!.hosts[0],
      {
        hostname: 'a',
        port: 2222,
        user: 'root',
        identity_file: null,
        proxy_jump: null,
        internal_ip: '10.0.0.5',
        blocks: 1,
        host_key: null,
      },
    ],
    [
      `${SSH}    - a\n  proxy_jump:\n    hostname: bastion\n    user: jump\n    identity_file: ~/.ssh/j`,
      (c) => c.ssh_config!.proxy_jump,
      {
        hostname: 'bastion',
        port: null,
        user: 'jump',
        identity_file: '~/.ssh/j',
        host_key: null,
      },
    ],
    [`${SSH}    - a\n  network: 10.0.0.0/24`, (c) => c.ssh_config!.network, '10.0.0.0/24'],
    [`${SSH}    - hostname: a\n      blocks: auto`, (c) => c.ssh_config!.hosts[0].blocks, 'auto'],
    ['nodes: 2', (c) => c.nodes, { min: 2, target: 2, max: 2 }],
    ['nodes: 1..4\nresources:\n  gpu: 24GB', (c) => c.resources.gpu.memory, { min: 24, max: 24 }],
    ['nodes: 0..2', (c) => c.nodes, { min: 0, target: 0, max: 2 }],
  ])('%j', (body, pick, expected) => {
    expect(pick(fleet(body))).toEqual(expected);
  });

  it('resolves each host with the fleet-wide user, port, key and jump host', () => {
    const c = fleet(
      'ssh_config:\n  user: ubuntu\n  port: 2200\n  identity_file: ~/.ssh/k\n  proxy_jump: {hostname: b, user: j, identity_file: ~/.ssh/j}\n' +
        '  hosts:\n    - h1\n    - hostname: h2\n      port: 22\n      user: root\n      identity_file: ~/.ssh/r\n',
    );
    const [h1, h2] = resolveSshHosts(c.ssh_config!);
    expect(h1).toEqual({
      hostname: 'h1',
      port: 2200,
      user: 'ubuntu',
      identity_file: '~/.ssh/k',
      proxy_jump: { hostname: 'b', port: null, user: 'j', identity_file: '~/.ssh/j', host_key: null },
      internal_ip: null,
      blocks: 1,
      host_key: null,
    });
    expect(h2).toMatchObject({ hostname: 'h2', port: 22, user: 'root', identity_file: '~/.ssh/r' });
  });

  it('defaults the port to 22', () => {
    expect(resolveSshHosts(fleet(`${SSH}    - a\n`).ssh_config!)[0].port).toBe(22);
  });
});

describe('fleet: errors', () => {
  it.each<[string, number, RegExp]>([
    ['name: x', 1, /a fleet needs `ssh_config` \(your own hosts\) or `nodes`/],
    [`${SSH}    - a\nnodes: 2`, 7, /`nodes: 2` is for cloud fleets/],
    ['nodes: 2\nenv: [A=1]', 3, /`env` is supported for SSH fleets/],
    ['ssh_config:\n  user: u\n  hosts: []', 4, /`hosts` is empty/],
    ['ssh_config:\n  user: u', 2, /missing required key `hosts` in ssh_config/],
    ['ssh_config:\n  hosts: [a]', 3, /no user for host a: set `ssh_config.user` or the host's `user`/],
    [`${SSH}    - a\n    - a`, 7, /host a:22 is listed twice/],
    [`${SSH}    - hostname: a\n      port: 0`, 7, /hosts\[0\].port: must be at least 1/],
    [`${SSH}    - hostname: a\n      port: 70000`, 7, /must be at most 65535/],
    [`${SSH}    - hostname: a\n      prox_jump: {}`, 7, /unknown key `prox_jump` in ssh_config.hosts\[0\] \(did you mean `proxy_jump`\?\)/],
    [`${SSH}    - port: 22`, 6, /missing required key `hostname` in ssh_config.hosts\[0\]/],
    [`${SSH}    - 22`, 6, /hosts\[0\]: expected a string or a mapping, got the number 22/],
    [`${SSH}    - a\n  proxy_jump:\n    hostname: b`, 7, /missing required key `user` in ssh_config.proxy_jump/],
    [`${SSH}    - hostname: a\n      internal_ip: 8.8.8.8`, 7, /internal_ip 8.8.8.8 is not a private IP address/],
    [`${SSH}    - a\n  network: 8.8.8.0/24`, 7, /network 8.8.8.0\/24 is public/],
    [`${SSH}    - a\n  network: 10.0.0.0`, 7, /invalid network "10.0.0.0"/],
    [`${SSH}    - a\n  hostz: []`, 7, /unknown key `hostz` in ssh_config \(did you mean `hosts`\?\)/],
    [`${SSH}    - a\nplacement: rack`, 7, /placement: expected one of any, cluster/],
    ['nodes: 3..1', 2, /invalid nodes "3\.\.1": max is less than min/],
    [`${SSH}    - a\nidle_duration: 3d`, 7, /`idle_duration` is for cloud fleets/],
    ['nodes: many', 2, /invalid nodes "many"/],
    ['nodes: 2\nresources:\n  gpu: A100::2', 4, /empty token/],
    ['nodes: 2\ntags: {a: b}', 3, /`tags` is not supported by dstack-ts/],
    ['nodes: 2\nide: vscode', 3, /unknown key `ide` in the fleet configuration/],
    ['nodes: 2\nmax_price: 0', 3, /max_price: must be greater than 0/],
    ['nodes: 2\nidle_duration: soon', 3, /invalid duration "soon"/],
  ])('%j → line %d: %s', (body, line, message) => {
    const errors = parseErrors(`type: fleet\n${body}\n`);
    expect(errors.map((e) => e.message).join('\n')).toMatch(message);
    expect(errors.find((e) => message.test(e.message))!.line).toBe(line);
  });
});

describe('fleet: host_key pins a host key', () => {
  const ED = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEZNw+gudN60IQ1Y13LweQJAYoQi26r+L77/AFePw8wE';
  const EC =
    'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBO44Nmg1BIrlmIy0a9jgke1oKhbLa/1YC2dO+qk4ILOUWzH0oboJ27T56E1sl58PcUrflf2azQ3lcAk3I3zvmVI=';

  it('per host and for the jump host; a comment after the key is dropped', () => {
    const c = fleet(
      `${SSH}    - hostname: a\n      host_key: ${ED} root@box\n      proxy_jump:\n        hostname: b\n        user: j\n        identity_file: k\n        host_key: "${EC}"\n`,
    );
    const [h] = resolveSshHosts(c.ssh_config!);
    expect(h.host_key).toBe(ED);
    expect(h.proxy_jump!.host_key).toBe(EC);
    // `dstack validate` writes it back (without the comment), and the daemon takes the JSON.
    const again = parseConfiguration('again.yml', toYaml(c));
    expect(again.ok && again.config).toEqual(c);
    expect(parseNormalizedConfiguration(toJson(c))).toEqual({ ok: true, config: toJson(c) });
  });

  it.each<[string, RegExp]>([
    ['ssh-dss AAAAB3NzaC1kc3M=', /hosts\[0\]\.host_key: host key "ssh-dss AAAAB3NzaC1kc3M=" has type "ssh-dss", not one of ssh-ed25519, /],
    ['ssh-ed25519', /host key "ssh-ed25519" is not "TYPE KEY"/],
    ['ssh-ed25519 not*base64', /is not base64 after its type/],
    [`ssh-rsa ${ED.split(' ')[1]}`, /holds a ssh-ed25519 key, not ssh-rsa/],
    ['42', /expected a host key like "ssh-ed25519 AAAA\.\.\.", got 42/],
  ])('%j is refused where it is written', (value, message) => {
    const errors = parseErrors(`type: fleet\n${SSH}    - hostname: a\n      host_key: ${value}\n`);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ line: 7, column: 17 });
    expect(errors[0].message).toMatch(message);
  });
});
