import { describe, expect, it } from 'vitest';
import { parseConfiguration } from './parse';
import { dev, parseErrors, parseOk } from './test-helpers';
import type { DevEnvironmentConfiguration } from './types';

type Pick = (c: DevEnvironmentConfiguration) => unknown;

describe('dev-environment: what a valid file means', () => {
  it.each<[string, Pick, unknown]>([
    ['name: vscode', (c) => c.name, 'vscode'],
    ['', (c) => c.name, null],
    ['python: "3.11"', (c) => c.python, '3.11'],
    ['python: 3.10', (c) => c.python, '3.10'],
    ['python: 3.9', (c) => c.python, '3.9'],
    ['python: 3.12', (c) => c.python, '3.12'],
    ['python: "3.14"', (c) => c.python, '3.14'],
    ['image: ubuntu:22.04', (c) => c.image, 'ubuntu:22.04'],
    ['ide: vscode', (c) => c.ide, 'vscode'],
    ['ide: cursor', (c) => c.ide, 'cursor'],
    ['ide: zed', (c) => c.ide, 'zed'],
    ['', (c) => c.ide, null],
    ['ide: vscode\nversion: 1.95.0', (c) => c.version, '1.95.0'],
    ['ide: windsurf\nversion: 1.106.0@8951cd3a', (c) => c.version, '1.106.0@8951cd3a'],
    ['privileged: true', (c) => c.privileged, true],
    ['privileged: yes', (c) => c.privileged, true],
    ['', (c) => c.privileged, false],
    ['nvcc: true', (c) => c.nvcc, true],
    ['docker: true', (c) => [c.docker, c.privileged, c.image, c.python], [true, false, null, null]],
    ['', (c) => c.docker, null],
    ['docker: true\nprivileged: false', (c) => [c.docker, c.privileged], [true, false]],
    ['docker: true\nresources:\n  gpu: MI300X', (c) => c.resources.gpu.vendor, 'amd'],
    ['docker: true\nresources:\n  gpu: "1"', (c) => c.resources.gpu.vendor, null],
    ['setup:\n  - pip install x\ninit:\n  - echo hi', (c) => [c.setup, c.init], [['pip install x'], ['echo hi']]],
    ['', (c) => c.setup, []],
    ['home_dir: /home/me', (c) => c.home_dir, '/home/me'],
    ['init:\n  - pip install wandb\n  - echo hi', (c) => c.init, ['pip install wandb', 'echo hi']],
    ['', (c) => c.init, []],
    ['env:\n  - HF_TOKEN\n  - HF_HUB_ENABLE_HF_TRANSFER=1', (c) => c.env, { HF_TOKEN: null, HF_HUB_ENABLE_HF_TRANSFER: '1' }],
    ['env:\n  - A=x=y\n  - B=', (c) => c.env, { A: 'x=y', B: '' }],
    ['env:\n  A: "1"\n  B: 1.10\n  C: true\n  D:', (c) => c.env, { A: '1', B: '1.10', C: 'true', D: null }],
    ['env: []', (c) => c.env, {}],
    ['working_dir: /workflow/src', (c) => c.working_dir, '/workflow/src'],
    ['user: ubuntu', (c) => c.user, 'ubuntu'],
    ['user: 1000:1000', (c) => c.user, '1000:1000'],
    ['user: 1000', (c) => c.user, '1000'],
    ['shell: bash', (c) => c.shell, 'bash'],
    ['shell: /usr/bin/zsh', (c) => c.shell, '/usr/bin/zsh'],
    [
      'ports: [8080, "8000:8081", "*:9000"]',
      (c) => c.ports,
      [
        { local_port: 8080, container_port: 8080 },
        { local_port: 8000, container_port: 8081 },
        { local_port: null, container_port: 9000 },
      ],
    ],
    [
      'volumes:\n  - my-vol:/data\n  - /mnt/cache:/cache\n  - {name: [a, b], path: /x}\n  - {instance_path: /y, path: /y, optional: true}',
      (c) => c.volumes,
      [
        { name: ['my-vol'], path: '/data' },
        { instance_path: '/mnt/cache', path: '/cache', optional: false },
        { name: ['a', 'b'], path: '/x' },
        { instance_path: '/y', path: '/y', optional: true },
      ],
    ],
    ['spot_policy: auto', (c) => c.spot_policy, 'auto'],
    ['', (c) => c.spot_policy, 'on-demand'],
    ['retry: true', (c) => c.retry, { on_events: ['no-capacity', 'interruption', 'error'], duration: 3600 }],
    ['retry: false', (c) => c.retry, null],
    ['', (c) => c.retry, null],
    ['retry:\n  on_events: [no-capacity]', (c) => c.retry, { on_events: ['no-capacity'], duration: 3600 }],
    [
      'retry:\n  on_events: [error, interruption]\n  duration: 4h',
      (c) => c.retry,
      { on_events: ['error', 'interruption'], duration: 14_400 },
    ],
    ['retry:\n  duration: 30m', (c) => c.retry, { on_events: ['no-capacity', 'interruption', 'error'], duration: 1800 }],
    ['max_duration: 1d', (c) => c.max_duration, 86_400],
    ['max_duration: off', (c) => c.max_duration, null],
    ['inactivity_duration: 2h', (c) => c.inactivity_duration, 7200],
    ['inactivity_duration: 600', (c) => c.inactivity_duration, 600],
    ['inactivity_duration: off', (c) => c.inactivity_duration, null],
    ['inactivity_duration: "off"', (c) => c.inactivity_duration, null],
    ['inactivity_duration: true', (c) => c.inactivity_duration, null],
    ['', (c) => c.inactivity_duration, null],
    ['idle_duration: 5m', (c) => c.idle_duration, 300],
    ['idle_duration: off', (c) => c.idle_duration, -1],
    ['idle_duration: "off"', (c) => c.idle_duration, -1],
    ['', (c) => c.idle_duration, null],
    ['max_price: 0.5', (c) => c.max_price, 0.5],
    ['max_price: 2', (c) => c.max_price, 2],
    ['backends: [local, ssh]', (c) => c.backends, ['local', 'ssh']],
    ['regions: [us-west4]', (c) => c.regions, ['us-west4']],
    ['instance_types: [p3.8xlarge]', (c) => c.instance_types, ['p3.8xlarge']],
    ['creation_policy: reuse', (c) => c.creation_policy, 'reuse'],
    ['', (c) => c.creation_policy, 'reuse-or-create'],
    ['fleets: [my-fleet]', (c) => c.fleets, ['my-fleet']],
    ['registry_auth:\n  username: u\n  password: p', (c) => c.registry_auth, { username: 'u', password: 'p' }],
    ['image:', (c) => c.image, null],
    ['resources:\n  gpu: 24GB', (c) => c.resources.gpu.vendor, 'nvidia'],
    ['image: x\nresources:\n  gpu: 24GB', (c) => c.resources.gpu.vendor, null],
    ['resources:\n  gpu: A100', (c) => c.resources.gpu.vendor, 'nvidia'],
    ['resources:\n  gpu: v2-8', (c) => c.resources.gpu.vendor, 'google'],
    ['image: rocm/pytorch\nresources:\n  gpu: MI300X:8', (c) => c.resources.gpu.vendor, 'amd'],
    ['', (c) => c.resources.gpu.vendor, 'nvidia'],
    ['image: x', (c) => c.resources.gpu.vendor, null],
    ['resources:\n  cpu: x86:16', (c) => c.resources.cpu, { arch: 'x86', count: { min: 16, max: 16 } }],
    ['resources:', (c) => c.resources.memory, { min: 8, max: null }],
  ])('%j', (body, pick, expected) => {
    expect(pick(dev(body))).toEqual(expected);
  });

  it('the seed page basic example: python 3.11, vscode, gpu 24GB', () => {
    const c = dev('name: vscode\npython: "3.11"\nide: vscode\nresources:\n  gpu: 24GB\n');
    expect(c.resources.gpu).toMatchObject({ count: { min: 1, max: null }, memory: { min: 24, max: 24 } });
    expect(c.resources.cpu.count).toEqual({ min: 2, max: null });
    expect(c.resources.memory).toEqual({ min: 8, max: null });
    expect(c.resources.disk.size).toEqual({ min: 100, max: null });
  });

  it('resolves ${{ env.NAME }} in registry_auth from the configuration env, then the CLI environment', () => {
    const body =
      'type: dev-environment\nimage: x\nenv:\n  - USER_NAME=me\nregistry_auth:\n  username: ${{ env.USER_NAME }}\n  password: ${{ env.PW }}$$x\n';
    const c = parseOk(body, { PW: 'secret', USER_NAME: 'not-me' }) as DevEnvironmentConfiguration;
    expect(c.registry_auth).toEqual({ username: 'me', password: 'secret$x' });
    const kept = parseOk(body) as DevEnvironmentConfiguration;
    expect(kept.registry_auth?.password).toBe('${{ env.PW }}$$x');
  });

  it('never fills env entries without a value from the environment', () => {
    const c = parseOk('type: dev-environment\nenv:\n  - HF_TOKEN\n', { HF_TOKEN: 'hf_secret' }) as DevEnvironmentConfiguration;
    expect(c.env).toEqual({ HF_TOKEN: null });
  });
});

describe('dev-environment: deprecated keys dstack still accepts', () => {
  it('accepts setup and home_dir with a warning at each key, and warns of nothing else', () => {
    const r = parseConfiguration('a.yml', 'type: dev-environment\nsetup:\n  - echo first\nhome_dir: /root\ninit: [echo then]\n');
    if (!r.ok) expect.fail(JSON.stringify(r.errors));
    expect(r.warnings?.map((w) => `${w.line}:${w.column} ${w.message}`)).toEqual([
      '2:1 `setup` is deprecated (dstack 0.18.31): its commands run right before `init`; move them into `init`',
      '4:1 `home_dir` is deprecated (dstack 0.18.31) and has no effect: remove it',
    ]);
    const plain = parseConfiguration('b.yml', 'type: dev-environment\nide: vscode\n');
    expect(plain.ok && plain.warnings).toEqual([]);
  });
});

describe('dev-environment: errors', () => {
  it.each<[string, number, RegExp]>([
    ['name: Vscode', 2, /name: invalid value "Vscode": use 2 to 41 lowercase letters/],
    ['name: a', 2, /name: invalid value "a": use 2 to 41/],
    ['name: my_run', 2, /name: invalid value "my_run": use 2 to 41/],
    ['python: "3.8"', 2, /invalid python version "3.8": use one of 3.9, 3.10/],
    ['python: 3', 2, /invalid python version 3/],
    ['python: "3.11"\nimage: ubuntu', 2, /`python: "3.11"` and `image: "ubuntu"` are mutually exclusive/],
    ['image: ubuntu\nnvcc: true', 3, /`nvcc` only applies to the default image/],
    ['version: 1.95.0', 2, /`version: "1.95.0"` needs `ide`/],
    ['ide: windsurf\nversion: 1.106.0', 3, /invalid Windsurf version "1.106.0": expected version@commit/],
    ['ide: vim', 2, /ide: expected one of vscode, cursor, windsurf, zed, got "vim"/],
    ['ide: vscod', 2, /did you mean `vscode`/],
    ['entrypoint: /bin/bash', 2, /`entrypoint` is not supported for dev environments/],
    ['commands: [ls]', 2, /`commands` belongs to tasks and services/],
    ['docker: true\nimage: ubuntu', 3, /`image` and `docker` are mutually exclusive/],
    ['docker: true\npython: "3.12"', 3, /`python` and `docker` are mutually exclusive/],
    ['docker: true\nnvcc: true', 3, /`nvcc` and `docker` are mutually exclusive/],
    ['docker: "true"', 2, /docker: expected true or false, got a string/],
    [
      'docker: true\nresources:\n  cpu: arm:2',
      4,
      /`docker: true` is not supported on ARM CPUs \(cpu: "arm:2"\): the DinD image is x86 only/,
    ],
    ['setup: echo hi', 2, /setup: expected a list, got a string/],
    ['home_dir: [1]', 2, /home_dir: expected a string/],
    ['pyhton: "3.11"', 2, /unknown key `pyhton` in the dev-environment configuration \(did you mean `python`\?\)/],
    ['inactivity: 2h', 2, /unknown key `inactivity`.*did you mean `inactivity_duration`/],
    ['resource:\n  gpu: 1', 2, /did you mean `resources`/],
    ['idle: 5m', 2, /unknown key `idle`.*did you mean `idle_duration`/],
    ['spot: auto', 2, /did you mean `spot_policy`/],
    ['zzz_unrelated: 1', 2, /unknown key `zzz_unrelated`.*allowed: type, name/],
    ['privileged: "true"', 2, /privileged: expected true or false, got a string/],
    ['init: pip install x', 2, /init: expected a list, got a string/],
    ['init: [1]', 2, /init\[0\]: expected a string, got the number 1/],
    ['env:\n  - A=1\n  - A=2', 4, /env\[1\]: duplicate environment variable `A` \(first at item 1\)/],
    ['env:\n  - A\n  - A', 4, /duplicate environment variable `A`/],
    ['env:\n  - 1A=x', 3, /env\[0\]: invalid environment variable "1A=x"/],
    ['env:\n  - MY-VAR=x', 3, /invalid environment variable "MY-VAR=x"/],
    ['env:\n  1A: x', 3, /invalid environment variable name `1A`/],
    ['env:\n  A: [1]', 3, /environment variable `A` must be a string, got a list/],
    ['env: FOO=bar', 2, /env: expected a list of NAME=VALUE or a mapping/],
    ['registry_auth:\n  username: u', 2, /missing required key `password` in registry_auth/],
    ['registry_auth:\n  username: u\n  password: p\n  token: t', 5, /unknown key `token` in registry_auth/],
    ['registry_auth:\n  username: u\n  password: ${{ vars.PW }}', 4, /registry_auth.password: invalid reference \$\{\{ vars.PW \}\}/],
    ['registry_auth:\n  username: u\n  password: ${{ env.PW', 4, /unclosed reference/],
    ['shell: zsh', 2, /invalid shell "zsh": use sh, bash, or an absolute path/],
    ['user: "a b"', 2, /invalid user "a b"/],
    ['ports: [0]', 2, /invalid port 0: ports are 1 to 65535/],
    ['ports: [70000]', 2, /ports are 1 to 65535/],
    ['ports: ["80:"]', 2, /invalid port "80:"/],
    ['ports: [8080, "9000:8080"]', 2, /port 8080 is listed twice/],
    ['ports: ["8000:80", "8000:81"]', 2, /local port 8000 is used twice/],
    ['ports: 8080', 2, /expected a list of ports/],
    ['volumes: ["data"]', 2, /invalid mount point format "data": write NAME:\/path/],
    ['volumes: ["vol:relative"]', 2, /invalid path "relative": path must be absolute/],
    ['volumes: [{name: v}]', 2, /invalid path nothing: expected an absolute path/],
    ['spot_policy: cheap', 2, /spot_policy: expected one of spot, on-demand, auto, got "cheap"/],
    ['spot_policy: ondemand', 2, /did you mean `on-demand`/],
    ['retry:\n  on_events: []', 3, /`on_events` cannot be empty/],
    ['retry:\n  on_events: [capacity]', 3, /invalid retry event "capacity".*did you mean `no-capacity`/],
    ['retry:\n  on_events: no-capacity', 3, /expected a list of no-capacity, interruption, error/],
    ['retry:\n  duration: forever', 3, /invalid duration "forever"/],
    ['retry:\n  attempts: 3', 3, /unknown key `attempts` in retry/],
    ['retry: 3', 2, /expected true, false or a mapping/],
    ['max_duration: 2x', 2, /max_duration: invalid duration "2x"/],
    ['inactivity_duration: -5', 2, /invalid duration -5/],
    ['inactivity_duration: 1.5h', 2, /invalid duration "1.5h"/],
    ['idle_duration: never', 2, /invalid duration "never"/],
    ['max_price: 0', 2, /max_price: must be greater than 0/],
    ['max_price: -1', 2, /must be greater than 0/],
    ['max_price: cheap', 2, /max_price: expected a number, got a string/],
    ['backends: [awz]', 2, /backends\[0\]: expected one of aws.*did you mean `aws`/],
    ['regions: us-west4', 2, /regions: expected a list/],
    ['creation_policy: create', 2, /expected one of reuse, reuse-or-create/],
    ['fleets: [1]', 2, /fleets\[0\]: expected a string/],
    ['resources:\n  gpu: MI300X', 3, /`image` is required for amd GPUs/],
    ['resources:\n  cpu: arm:4', 3, /`image` is required on ARM CPUs/],
    ['resources:\n  cpu: arm:8', 3, /`image` is required on ARM CPUs/],
    ['resources:\n  gpu: tt:n150', 3, /`image` is required for tenstorrent GPUs/],
    ['resources: 4', 2, /resources: expected a mapping of cpu, memory/],
  ])('%j → line %d: %s', (body, line, message) => {
    const errors = parseErrors(`type: dev-environment\n${body}\n`);
    expect(errors.map((e) => e.message).join('\n')).toMatch(message);
    const e = errors.find((x) => message.test(x.message))!;
    expect(e.line).toBe(line);
  });

  it('requires registry variables to be set when resolving them', () => {
    const errors = parseErrors(
      'type: dev-environment\nimage: x\nregistry_auth:\n  username: u\n  password: ${{ env.REGISTRY_PASSWORD }}\n',
      {},
    );
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ line: 5, column: 13 });
    expect(errors[0].message).toMatch(/registry_auth.password: `REGISTRY_PASSWORD` is not set/);
  });
});
