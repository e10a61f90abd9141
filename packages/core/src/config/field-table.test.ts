import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DEV_ENVIRONMENT_FIELDS } from './dev-environment';
import { FLEET_FIELDS } from './fleet';
import { buildFrom, field, inputSchema, storedSchema, yamlFrom } from './field-table';
import { configurationJsonSchema } from './json-schema';
import { NormalizedConfigurationSchema } from './normalized';
import { toJson, toYaml } from './output';
import { parseConfiguration } from './parse';
import { durationYaml } from './yaml-forms';
import { leaf } from './fields';

const KEYS = Object.keys(DEV_ENVIRONMENT_FIELDS);

describe('the dev environment field table', () => {
  it('is the one list of keys: the editor schema, the built configuration, the stored check and the YAML follow it', () => {
    const jsonSchema = configurationJsonSchema('dev-environment') as { properties: Record<string, unknown> };
    expect(Object.keys(jsonSchema.properties)).toEqual(['type', ...KEYS]);
    const r = parseConfiguration('.dstack.yml', 'type: dev-environment\n');
    expect(r.ok && Object.keys(r.config)).toEqual(['type', ...KEYS]);
    const stored = NormalizedConfigurationSchema.options[0].shape;
    expect(Object.keys(stored)).toEqual(['type', ...KEYS]);
  });

  it('writes every key back so that it reads the same', () => {
    const text = [
      'type: dev-environment',
      'name: all-keys',
      'python: "3.12"',
      'nvcc: true',
      'privileged: true',
      'docker: false',
      'ide: cursor',
      'version: abc123',
      'init: [echo hi]',
      'setup: [echo first]',
      'env: [A=1, B]',
      'registry_auth: {username: u, password: p}',
      'working_dir: /w',
      'home_dir: /root',
      'user: 1000:1000',
      'shell: bash',
      'ports: [8080, "*:9000"]',
      'volumes: [data:/data, /host:/mnt]',
      'files: [data.txt:/opt/data.txt, ~/.gitconfig]',
      'repos: [{url: "https://example.com/r.git", branch: dev, path: /src, token_env: A}]',
      'single_branch: true',
      'resources: {gpu: A100:2, memory: 16GB..}',
      'spot_policy: auto',
      'retry: {on_events: [error], duration: 2h}',
      'max_duration: 1d',
      'inactivity_duration: 30m',
      'idle_duration: off',
      'utilization_policy: {min_gpu_utilization: 10, time_window: 30m}',
      'max_price: 1.5',
      'backends: [local]',
      'regions: [r1]',
      'instance_types: [t1]',
      'creation_policy: reuse',
      'fleets: [f1]',
    ].join('\n');
    // `image` excludes `python` and `nvcc`: the second file has it instead.
    const withImage = text.replace('python: "3.12"\nnvcc: true', 'image: ubuntu');
    const written = new Set<string>();
    for (const t of [text, withImage]) {
      const first = parseConfiguration('a.yml', t);
      if (!first.ok) throw new Error(JSON.stringify(first.errors));
      const yaml = toYaml(first.config, { revealSecrets: true });
      for (const k of KEYS) if (new RegExp(`^${k}:`, 'm').test(yaml)) written.add(k);
      const again = parseConfiguration('b.yml', yaml);
      expect(again.ok && again.config).toEqual(first.config);
      expect(NormalizedConfigurationSchema.parse(toJson(first.config, { revealSecrets: true }))).toEqual(first.config);
    }
    expect([...written].sort()).toEqual([...KEYS].sort());
  });

  it('a new key is one row: input, default, build, stored check and YAML come from it', () => {
    const table = {
      ...DEV_ENVIRONMENT_FIELDS,
      stop_after: field({
        input: leaf((v) => Number(v), 'A made-up key', { type: 'integer' }).optional(),
        stored: z.number().int().nullable(),
        default: null,
        yaml: durationYaml,
      }),
    };
    const input = inputSchema('dev-environment', table).parse({ type: 'dev-environment', stop_after: 90 });
    const built = buildFrom('dev-environment', table, input, {});
    expect(built.stop_after).toBe(90);
    expect(buildFrom('dev-environment', table, {}, {}).stop_after).toBeNull();
    expect(storedSchema('dev-environment', table).safeParse({ ...built, stop_after: 'x' }).success).toBe(false);
    expect(storedSchema('dev-environment', table).parse(built)).toEqual(built);
    expect(yamlFrom('dev-environment', table, built).stop_after).toBe('90s');
  });
});

describe('the fleet field table', () => {
  it('is the one list of keys of a fleet too', () => {
    const keys = ['type', ...Object.keys(FLEET_FIELDS)];
    const jsonSchema = configurationJsonSchema('fleet') as { properties: Record<string, unknown> };
    expect(Object.keys(jsonSchema.properties)).toEqual(keys);
    const r = parseConfiguration('fleet.yml', 'type: fleet\nnodes: 2\n');
    expect(r.ok && Object.keys(r.config)).toEqual(keys);
    expect(Object.keys(NormalizedConfigurationSchema.options[1].shape)).toEqual(keys);
    // An SSH fleet's YAML leaves out the keys only cloud fleets have.
    const ssh = parseConfiguration('ssh.yml', 'type: fleet\nssh_config:\n  user: u\n  hosts: [h1]\n');
    expect(ssh.ok && toYaml(ssh.config)).toBe('type: fleet\nssh_config:\n  user: u\n  hosts:\n    - h1\nplacement: any\n');
  });
});
