import { describe, expect, it } from 'vitest';
import { CONFIGURATION_ERRORS_HEADER } from '@dstack/core/config/source';
import { ConfigurationOverrides, type ConfigurationSource } from '@dstack/core/gen/daemon';
import { readSource } from '../config-source';
import { BadRequestError, changedFields, collectSecrets, isInPlace, maskConfiguration, revealConfiguration } from './configuration';
import { buildJobSpec, defaultBaseImage, imageFor } from './job-spec';

function source(text: string, over: Partial<ConfigurationSource> = {}): ConfigurationSource {
  return { path: '.dstack.yml', text, cwd: '/work', env: [], callerEnv: {}, ...over };
}

/** As the daemon reads an ApplyRun request whose caller has HF_TOKEN set. */
function parseRunConfiguration(text: string) {
  return readSource(source(text, { callerEnv: { HF_TOKEN: 'hf_x' } }), 'dev-environment', 'ApplyRun').config;
}
const normalized = (text: string) => text;

const BASE = `type: dev-environment
name: vscode
python: "3.11"
ide: vscode
env:
  - HF_TOKEN
  - MY_VAR=hello
registry_auth:
  username: me
  password: s3cret
inactivity_duration: 2h
`;

describe('run configuration', () => {
  it('refuses a bad file with every problem at FILE:LINE:COL, under the header the CLI looks for', () => {
    const read = () => readSource(source('type: dev-environment\nname: 5\nide: notepad\n'), 'dev-environment', 'ApplyRun');
    expect(read).toThrow(BadRequestError);
    const lines = (() => {
      try {
        read();
      } catch (err) {
        return (err as Error).message.split('\n');
      }
      return [];
    })();
    expect(lines[0]).toBe(CONFIGURATION_ERRORS_HEADER);
    expect(lines.slice(1).map((l) => l.replace(/: .*/, ''))).toEqual(['.dstack.yml:2:7', '.dstack.yml:3:6']);
    expect(() => readSource(source('type: fleet\nssh_config:\n  user: u\n  hosts: [h]\n'), 'dev-environment', 'ApplyRun')).toThrow(
      '.dstack.yml: a fleet configuration is applied with ApplyFleet, not ApplyRun',
    );
    expect(() => readSource(undefined, 'dev-environment', 'ApplyRun')).toThrow(BadRequestError);
  });

  it("applies the flags, the -e entries and the caller's environment, taking only the names it refers to", () => {
    const r = readSource(
      source(BASE, {
        overrides: ConfigurationOverrides.fromPartial({ gpu: 'A100:2', maxPrice: '0.5', spotPolicy: 'auto' }),
        env: [
          { name: 'EXTRA', value: 'typed', secret: false },
          { name: 'FROM_SHELL', secret: true },
        ],
        callerEnv: { HF_TOKEN: 'hf_x', FROM_SHELL: 'shell', UNRELATED: 'never-kept' },
      }),
      'dev-environment',
      'ApplyRun',
    );
    expect(r.path).toBe('/work/.dstack.yml');
    expect(r.config.resources.gpu.name).toEqual(['A100']);
    expect(r.config).toMatchObject({ max_price: 0.5, spot_policy: 'auto' });
    expect(r.config.env).toEqual({ HF_TOKEN: null, MY_VAR: 'hello', EXTRA: 'typed', FROM_SHELL: null });
    expect(r.secretEnv).toEqual({ HF_TOKEN: 'hf_x', FROM_SHELL: 'shell' });
    expect(JSON.stringify(r)).not.toContain('never-kept');
    expect(() => readSource(source(BASE), 'dev-environment', 'ApplyRun')).toThrow(/^no value for env HF_TOKEN: set it in your environment/);
    expect(() =>
      readSource(source(BASE, { overrides: ConfigurationOverrides.fromPartial({ gpu: 'A100:80GB:2:3' }) }), 'dev-environment', 'ApplyRun'),
    ).toThrow(/^--gpu "A100:80GB:2:3": /);
  });

  it('resolves ${{ env.NAME }} in registry_auth from the caller, and refuses an unset one at its line', () => {
    const text = 'type: dev-environment\nimage: r.example/i\nregistry_auth:\n  username: me\n  password: ${{ env.REG_PASS }}\n';
    expect(readSource(source(text, { callerEnv: { REG_PASS: 'p4ss' } }), 'dev-environment', 'ApplyRun').config.registry_auth).toEqual({
      username: 'me',
      password: 'p4ss',
    });
    expect(() => readSource(source(text), 'dev-environment', 'ApplyRun')).toThrow(/\.dstack\.yml:5:13: registry_auth\.password: /);
  });

  it('needs a value for every env entry listed without one', () => {
    const cfg = parseRunConfiguration(normalized(BASE));
    expect(() => collectSecrets(cfg, {})).toThrow(
      'env HF_TOKEN has no value: pass -e HF_TOKEN=VALUE or set it in the environment of `dstack apply`',
    );
    const s = collectSecrets(cfg, { HF_TOKEN: 'hf_x' });
    expect(s).toEqual({ env: { HF_TOKEN: 'hf_x' }, registryPassword: 's3cret' });
  });

  it('masks secrets for storage and display, and reveals them for the job', () => {
    const cfg = parseRunConfiguration(normalized(BASE));
    const secrets = collectSecrets(cfg, { HF_TOKEN: 'hf_x' });
    const masked = maskConfiguration(cfg, secrets);
    const text = JSON.stringify(masked);
    expect(text).not.toContain('hf_x');
    expect(text).not.toContain('s3cret');
    expect(masked.env).toEqual({ HF_TOKEN: '***', MY_VAR: 'hello' });
    const job = buildJobSpec({
      jobId: 'j',
      runId: 'r',
      runName: 'vscode',
      repoId: 'rid',
      config: revealConfiguration(masked, secrets),
      secretEnvNames: Object.keys(secrets.env),
      offer: {
        backend: 'local',
        region: 'local',
        instanceType: 'local',
        spot: false,
        price: 0,
        availability: 'available',
        instanceName: 'local',
        fleet: '',
      },
      baseImage: null,
      publicKey: 'ssh-ed25519 AAAA',
      ideVersion: 'abc',
      expectCode: true,
      home: '/h',
    });
    // The secret goes apart, so the agent can keep it off its disk and out of the container's config.
    expect(job.env).toEqual({ MY_VAR: 'hello', DSTACK_RUN_NAME: 'vscode', DSTACK_REPO_ID: 'rid', DSTACK_GPUS_NUM: '0' });
    expect(job.secretEnv).toEqual({ HF_TOKEN: 'hf_x' });
    expect(job.registryAuth).toEqual({ username: 'me', password: 's3cret' });
    expect(job.image).toBe('dstackai/base:py3.11-0.7-cuda-12.1');
    expect(job.ide).toEqual({ name: 'vscode', version: 'abc' });
  });

  it('finds in-place changes: only inactivity_duration', () => {
    const a = parseRunConfiguration(normalized(BASE));
    const b = parseRunConfiguration(normalized(BASE.replace('inactivity_duration: 2h', 'inactivity_duration: 30m')));
    const c = parseRunConfiguration(normalized(BASE.replace('python: "3.11"', 'python: "3.12"')));
    expect(changedFields(a, b)).toEqual(['inactivity_duration']);
    expect(isInPlace(changedFields(a, b))).toBe(true);
    expect(changedFields(a, c)).toEqual(['python']);
    expect(isInPlace(changedFields(a, c))).toBe(false);
    expect(changedFields(a, a)).toEqual([]);
  });

  it('picks the devel base image for nvcc, and config.yml overrides it', () => {
    const cfg = parseRunConfiguration(normalized('type: dev-environment\npython: "3.12"\nnvcc: true\nide: vscode\n'));
    expect(imageFor(cfg, null)).toBe(defaultBaseImage('3.12', true));
    expect(defaultBaseImage('3.12', true)).toBe('dstackai/base:py3.12-0.7-cuda-12.1-devel');
    expect(imageFor(cfg, 'local/debian:x')).toBe('local/debian:x');
  });

  it("carries config.yml's ssh_server limits to the JobSpec, 0 for what the agent defaults", () => {
    const input = {
      jobId: 'j',
      runId: 'r',
      runName: 'n',
      repoId: 'rid',
      config: parseRunConfiguration(normalized(BASE)),
      offer: {
        backend: 'local',
        region: 'local',
        instanceType: 'local',
        spot: false,
        price: 0,
        availability: 'available',
        instanceName: 'local',
        fleet: '',
      },
      baseImage: null,
      publicKey: 'ssh-ed25519 AAAA',
      ideVersion: 'abc',
      expectCode: true,
      home: '/h',
      secretEnvNames: [],
    };
    expect(buildJobSpec({ ...input, sshServer: { maxStartups: 3, loginGraceTimeSeconds: 5 } }).sshServer).toEqual({
      loginGraceTimeSeconds: 5,
      maxStartups: 3,
      maxAuthTries: 0,
      maxConnections: 0,
      maxSessions: 0,
    });
    expect(buildJobSpec(input).sshServer).toEqual({
      loginGraceTimeSeconds: 0,
      maxStartups: 0,
      maxAuthTries: 0,
      maxConnections: 0,
      maxSessions: 0,
    });
  });
});
