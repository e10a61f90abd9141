import { describe, expect, it } from 'vitest';
import { parseConfiguration, toJson } from '@dstack/core/config/index';
import { BadRequestError, changedFields, collectSecrets, isInPlace, maskConfiguration, parseRunConfiguration, revealConfiguration } from './configuration';
import { buildJobSpec, defaultBaseImage, imageFor } from './job-spec';

function normalized(yaml: string): string {
  const r = parseConfiguration('.dstack.yml', yaml, {});
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return JSON.stringify(toJson(r.config, { revealSecrets: true }));
}

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
  it('rejects what is not a normalized dev environment, with one line', () => {
    expect(() => parseRunConfiguration('{nope')).toThrow(/configuration_json is not JSON/);
    expect(() => parseRunConfiguration('{"type":"dev-environment"}')).toThrow(BadRequestError);
    expect(() => parseRunConfiguration('')).toThrow('configuration_json is empty');
  });

  it('needs a value for every env entry listed without one', () => {
    const cfg = parseRunConfiguration(normalized(BASE));
    expect(() => collectSecrets(cfg, {})).toThrow('env HF_TOKEN has no value: pass -e HF_TOKEN=VALUE or set it in the environment of `dstack apply`');
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
      jobId: 'j', runId: 'r', runName: 'vscode', repoId: 'rid', config: revealConfiguration(masked, secrets), secretEnvNames: Object.keys(secrets.env),
      offer: { backend: 'local', region: 'local', instanceType: 'local', spot: false, price: 0, availability: 'available', instanceName: 'local', fleet: '' },
      baseImage: null, publicKey: 'ssh-ed25519 AAAA', ideVersion: 'abc', expectCode: true, home: '/h',
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
      jobId: 'j', runId: 'r', runName: 'n', repoId: 'rid', config: parseRunConfiguration(normalized(BASE)),
      offer: { backend: 'local', region: 'local', instanceType: 'local', spot: false, price: 0, availability: 'available', instanceName: 'local', fleet: '' },
      baseImage: null, publicKey: 'ssh-ed25519 AAAA', ideVersion: 'abc', expectCode: true, home: '/h', secretEnvNames: [],
    };
    expect(buildJobSpec({ ...input, sshServer: { maxStartups: 3, loginGraceTimeSeconds: 5 } }).sshServer).toEqual({
      loginGraceTimeSeconds: 5, maxStartups: 3, maxAuthTries: 0, maxConnections: 0, maxSessions: 0,
    });
    expect(buildJobSpec(input).sshServer).toEqual({ loginGraceTimeSeconds: 0, maxStartups: 0, maxAuthTries: 0, maxConnections: 0, maxSessions: 0 });
  });
});
