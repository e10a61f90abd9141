import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configurationJsonSchema } from './json-schema';
import { parseNormalizedConfiguration } from './normalized';
import { toJson, toYaml } from './output';
import { parseConfiguration } from './parse';
import { dev, parseOk } from './test-helpers';
import type { Configuration, DevEnvironmentConfiguration } from './types';
import { envNeedingValues } from './index';

const EXAMPLES = join(__dirname, '../../../../examples');
const exampleFiles = readdirSync(EXAMPLES).filter((f) => f.endsWith('.dstack.yml') || f === '.dstack.yml');

describe('examples/', () => {
  it('holds the seed page configurations, the README job and a fleet', () => {
    expect(exampleFiles).toEqual(
      expect.arrayContaining([
        '.dstack.yml',
        'gpu.dstack.yml',
        'init.dstack.yml',
        'inactivity.dstack.yml',
        'resources.dstack.yml',
        'tpu.dstack.yml',
        'docker-image.dstack.yml',
        'private-registry.dstack.yml',
        'env.dstack.yml',
        'retry.dstack.yml',
        'fleet.dstack.yml',
      ]),
    );
  });

  it.each(exampleFiles)('%s validates, and its YAML form parses back to the same configuration', (file) => {
    const text = readFileSync(join(EXAMPLES, file), 'utf8');
    const r = parseConfiguration(file, text);
    if (!r.ok) expect.fail(r.errors.map((e) => `${e.line}:${e.column}: ${e.message}`).join('\n'));
    const again = parseConfiguration(file, toYaml(r.config, { revealSecrets: true }));
    expect(again.ok && again.config).toEqual(r.config);
    expect(parseNormalizedConfiguration(toJson(r.config))).toEqual({ ok: true, config: toJson(r.config) });
  });

  it('.dstack.yml is a CPU-only job a small machine can serve', () => {
    const c = parseOk(readFileSync(join(EXAMPLES, '.dstack.yml'), 'utf8')) as DevEnvironmentConfiguration;
    expect(c).toMatchObject({ name: 'hello', python: '3.11', ide: 'vscode', inactivity_duration: 7200 });
    expect(c.init.length).toBe(1);
    expect(Object.keys(c.env).length).toBeGreaterThan(0);
    expect(c.resources.gpu.count.min).toBe(0);
    expect(c.resources.cpu.count).toEqual({ min: 2, max: null });
    expect(c.resources.memory.min).toBeLessThanOrEqual(4);
    expect(c.resources.disk.size.min).toBeLessThanOrEqual(10);
  });
});

describe('toJson', () => {
  const c = dev(
    'image: x\nenv:\n  - HF_TOKEN\n  - A=1\nregistry_auth:\n  username: u\n  password: hunter2\ninactivity_duration: 2h\nidle_duration: off\n',
  );

  it('masks the registry password unless asked, and leaves the configuration alone', () => {
    expect(toJson(c).registry_auth).toEqual({ username: 'u', password: '***' });
    expect(toJson(c, { revealSecrets: true }).registry_auth!.password).toBe('hunter2');
    expect(c.registry_auth!.password).toBe('hunter2');
    expect(JSON.stringify(toJson(c))).not.toContain('hunter2');
    expect(toYaml(c)).not.toContain('hunter2');
  });

  it('is plain JSON: seconds, -1 for idle off, ranges, env with null for values to supply', () => {
    const j = toJson(c);
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
    expect(j).toMatchObject({ inactivity_duration: 7200, idle_duration: -1, max_duration: null, env: { HF_TOKEN: null, A: '1' } });
    expect(j.resources.cpu).toEqual({ arch: null, count: { min: 2, max: null } });
    expect(j.resources.disk).toEqual({ size: { min: 100, max: null } });
    expect(envNeedingValues(c)).toEqual(['HF_TOKEN']);
  });
});

describe('toYaml', () => {
  it('writes dstack grammar with defaults filled in', () => {
    const yaml = toYaml(dev('name: vscode\npython: 3.10\nide: vscode\nresources:\n  gpu: A100:80GB:2\nretry: true\nports: ["*:8080"]\n'));
    expect(yaml).toContain('python: "3.10"');
    expect(yaml).toMatch(/resources:\n {2}cpu: 2\.\.\n {2}memory: 8GB\.\.\n {2}disk: 100GB\.\.\n {2}gpu: nvidia:A100:80GB:2\n/);
    expect(yaml).toMatch(/duration: 1h/);
    expect(yaml).toContain('"*:8080"');
  });

  it('round-trips the unusual forms', () => {
    const text =
      'type: dev-environment\nresources:\n  cpu: arm:4..8\n  gpu: {name: [H100, H200], total_memory: 160GB.., compute_capability: 9.0, count: 2}\n' +
      'image: x\nvolumes: [{name: [a, b], path: /a}, {instance_path: /b, path: /b, optional: true}, "v:/c"]\nports: [8080, "1:2"]\nmax_duration: 90m\n';
    const c = parseOk(text);
    expect(parseOk(toYaml(c))).toEqual(c);
  });
});

describe('parseNormalizedConfiguration', () => {
  const good = toJson(dev('name: vscode\nresources:\n  gpu: 24GB\n')) as Configuration;

  it('accepts what toJson gives, and what JSON makes of it', () => {
    expect(parseNormalizedConfiguration(good)).toEqual({ ok: true, config: good });
    expect(parseNormalizedConfiguration(structuredClone(good)).ok).toBe(true);
  });

  it.each<[string, (c: any) => void, RegExp]>([
    ['an unknown field', (c) => (c.extra = 1), /Unrecognized key/],
    ['a reversed range', (c) => (c.resources.memory = { min: 9, max: 1 }), /resources.memory: min is greater than max/],
    ['an empty range', (c) => (c.resources.cpu.count = { min: null, max: null }), /empty range/],
    ['a bad name', (c) => (c.name = 'Bad'), /name/],
    ['a negative duration', (c) => (c.inactivity_duration = -5), /inactivity_duration/],
    ['a bad env name', (c) => (c.env = { '1A': 'x' }), /env/],
    ['a wrong type', (c) => (c.type = 'task'), /type/],
    ['a missing field', (c) => delete c.resources, /resources/],
  ])('rejects %s', (_, mutate, message) => {
    const bad = structuredClone(good);
    mutate(bad);
    const r = parseNormalizedConfiguration(bad);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toMatch(message);
  });

  it('rejects text: the caller parses the stored JSON', () => {
    expect(parseNormalizedConfiguration(JSON.stringify(good)).ok).toBe(false);
  });
});

describe('configurationJsonSchema', () => {
  it('describes both types, chosen by `type`, with every key and no others', () => {
    const s = configurationJsonSchema() as any;
    expect(s.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(s.properties.type.enum).toEqual(['dev-environment', 'fleet']);
    const [devRule, fleetRule] = s.allOf;
    expect(devRule.if.properties.type.const).toBe('dev-environment');
    expect(devRule.then.additionalProperties).toBe(false);
    expect(Object.keys(devRule.then.properties)).toEqual(
      expect.arrayContaining([
        'name',
        'image',
        'python',
        'ide',
        'version',
        'init',
        'env',
        'registry_auth',
        'resources',
        'retry',
        'inactivity_duration',
      ]),
    );
    expect(devRule.then.properties.resources.properties.gpu.description).toMatch(/A100:80GB:2/);
    expect(devRule.then.properties.image.description).toMatch(/Docker image/);
    expect(devRule.then.properties.image.anyOf).toEqual([{ type: 'string' }, { type: 'null' }]);
    expect(fleetRule.then.properties.ssh_config.anyOf ?? fleetRule.then.properties.ssh_config).toBeTruthy();
    expect(JSON.stringify(fleetRule.then)).toContain('proxy_jump');
  });

  it('gives one type alone when asked', () => {
    const s = configurationJsonSchema('fleet') as any;
    expect(s.properties.type.const).toBe('fleet');
    expect(s.properties.ide).toBeUndefined();
  });
});
