// `dstack validate` and `dstack schema` end to end through the real CLI: the source is bundled the way
// scripts/build.mjs bundles it (workspace packages inlined, npm packages external) and run as a child
// process, so this tests what a user runs, not a build left over in dist/.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(__dirname, '../../../..');
const outDir = join(root, 'node_modules/.cache/dstack-cli-test');
const cli = join(outDir, `cli-${process.pid}.cjs`);
let tmp: string;

beforeAll(async () => {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [join(root, 'packages/cli/src/main.ts')],
    outfile: cli,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    logLevel: 'error',
    plugins: [
      {
        name: 'workspace',
        setup(b) {
          b.onResolve({ filter: /^@dstack\// }, (args) => {
            const [, pkg, ...rest] = args.path.split('/');
            return { path: join(root, 'packages', pkg, 'src', `${rest.length ? rest.join('/') : 'index'}.ts`) };
          });
        },
      },
    ],
  });
  tmp = mkdtempSync(join(tmpdir(), 'dstack-validate-'));
}, 60_000);

afterAll(() => {
  rmSync(cli, { force: true });
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function dstack(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, DSTACK_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, text: string): string {
  const path = join(tmp, name);
  writeFileSync(path, text);
  return path;
}

describe('dstack validate', () => {
  it('checks a `type: volume` file: its keys as dstack writes them, or each problem at its place', () => {
    const ok = dstack(
      'validate',
      '-f',
      file('vol.dstack.yml', 'type: volume\nname: my-vol\nbackend: runpod\nregion: EU-RO-1\nsize: 1TB\n'),
    );
    expect([ok.code, ok.stderr]).toEqual([0, '']);
    expect(ok.stdout).toBe('type: "volume"\nname: "my-vol"\nbackend: "runpod"\nregion: "EU-RO-1"\nsize: "1024GB"\n');
    const bad = dstack(
      'validate',
      '-f',
      file('bad-vol.dstack.yml', 'type: volume\nname: my-vol\nbackend: runpod\nsize: 1TB\nvolume_id: x\n'),
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/bad-vol\.dstack\.yml:4:7: `size` is for a volume to make/);
  });

  it('prints the seed example normalized as one JSON object', () => {
    const r = dstack('validate', '-f', 'examples/gpu.dstack.yml', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const c = JSON.parse(r.stdout);
    expect(c.type).toBe('dev-environment');
    expect(c.python).toBe('3.11');
    expect(c.ide).toBe('vscode');
    expect(c.resources.gpu.memory).toEqual({ min: 24, max: 24 });
    expect(c.resources.gpu.count).toEqual({ min: 1, max: null });
    expect(c.resources.cpu).toEqual({ arch: null, count: { min: 2, max: null } });
    expect(c.resources.memory).toEqual({ min: 8, max: null });
    expect(c.resources.disk).toEqual({ size: { min: 100, max: null } });
    expect(c.inactivity_duration).toBeNull();
    expect(c.retry).toBeNull();
  });

  it('prints readable YAML without --json', () => {
    const r = dstack('validate', '-f', 'examples/gpu.dstack.yml');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('name: vscode\n');
    expect(r.stdout).toContain('python: "3.11"\n');
    expect(r.stdout).toMatch(/resources:\n {2}cpu: 2\.\.\n {2}memory: 8GB\.\.\n {2}disk: 100GB\.\.\n {2}gpu: nvidia:24GB:1\.\.\n/);
  });

  it.each(readdirSync(join(root, 'examples')))('validates examples/%s', (name) => {
    const r = dstack('validate', '-f', `examples/${name}`, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).type).toMatch(/^(dev-environment|fleet)$/);
  });

  it('masks the registry password and does not resolve env references', () => {
    const path = file('reg.dstack.yml', 'type: dev-environment\nimage: x\nregistry_auth:\n  username: u\n  password: hunter2\n');
    const r = dstack('validate', '-f', path, '--json');
    expect(JSON.parse(r.stdout).registry_auth).toEqual({ username: 'u', password: '***' });
    expect(r.stdout + r.stderr).not.toContain('hunter2');
    expect(dstack('validate', '-f', path).stdout).not.toContain('hunter2');
  });

  it('reports every problem on stderr as FILE:LINE:COL, exits 1, prints nothing on stdout', () => {
    const path = file('bad.dstack.yml', 'type: dev-environment\nname: Bad\nresources:\n  gpu: A100::2\n  cpu: 2..1\nidle: 5m\n');
    const r = dstack('validate', '-f', path, '--json');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(
      lines.map((l) =>
        l
          .slice(path.length + 1)
          .split(':')
          .slice(0, 2)
          .join(':'),
      ),
    ).toEqual(['2:7', '4:8', '5:8', '6:1']);
    for (const line of lines) expect(line.startsWith(`${path}:`)).toBe(true);
    expect(lines[3]).toMatch(/unknown key `idle`.*did you mean `idle_duration`/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("accepts dstack's deprecated setup and home_dir with a warning each on stderr", () => {
    const path = file('old.dstack.yml', 'type: dev-environment\nhome_dir: /root\nsetup:\n  - pip install x\ndocker: true\n');
    const r = dstack('validate', '-f', path, '--json');
    expect(r.code).toBe(0);
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      `warning: ${path}:2:1: \`home_dir\` is deprecated (dstack 0.18.31) and has no effect: remove it`,
      `warning: ${path}:3:1: \`setup\` is deprecated (dstack 0.18.31): its commands run right before \`init\`; move them into \`init\``,
    ]);
    const c = JSON.parse(r.stdout);
    expect([c.setup, c.home_dir, c.docker]).toEqual([['pip install x'], '/root', true]);
  });

  it('reports a YAML syntax error with its position', () => {
    const path = file('syntax.dstack.yml', 'type: dev-environment\nname: "vscode\n');
    const r = dstack('validate', '-f', path);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^${path.replace(/[.]/g, '\\.')}:2:7: YAML syntax error: `));
  });

  it('fails in one line, without a stack trace, when the file is missing', () => {
    const r = dstack('validate', '-f', 'nope.dstack.yml');
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/nope\.dstack\.yml: cannot read: no such file/);
    expect(r.stderr).not.toMatch(/\s+at /);
  });
});

describe('dstack schema', () => {
  it('prints the JSON Schema of both types', () => {
    const r = dstack('schema');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(s.allOf.map((x: { if: { properties: { type: { const: string } } } }) => x.if.properties.type.const)).toEqual([
      'dev-environment',
      'fleet',
    ]);
  });

  it('prints one type with --type, and rejects an unknown type with exit 2', () => {
    expect(JSON.parse(dstack('schema', '--type', 'fleet').stdout).title).toBe('dstack fleet configuration');
    const bad = dstack('schema', '--type', 'task');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/dev-environment, fleet/);
  });

  it('is listed in --help next to validate', () => {
    const help = dstack('--help').stdout;
    expect(help).toMatch(/validate \[options\]/);
    expect(help).toMatch(/schema \[options\]/);
  });
});
