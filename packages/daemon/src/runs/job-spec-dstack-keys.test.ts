// dstack keys as the agent gets them: `docker: true` (the DinD image, privileged, dockerd started),
// the deprecated `setup` (run right before `init`) and `home_dir` (no effect), and the IDE links.
import { describe, expect, it } from 'vitest';
import { parseConfiguration, type DevEnvironmentConfiguration } from '@dstack/core/config/index';
import { Offer } from '@dstack/core/gen/daemon';
import { DEFAULT_DIND_IMAGE } from '../config';
import { buildJobSpec, ideLink, imageFor } from './job-spec';

function config(body: string): DevEnvironmentConfiguration {
  const r = parseConfiguration('.dstack.yml', `type: dev-environment\n${body}`, {});
  if (!r.ok || r.config.type !== 'dev-environment') throw new Error(JSON.stringify(r));
  return r.config;
}

function spec(c: DevEnvironmentConfiguration, dindImage?: string) {
  return buildJobSpec({
    jobId: 'j',
    runId: 'r',
    runName: 'run',
    repoId: 'repo',
    config: c,
    secretEnvNames: [],
    offer: Offer.fromPartial({ backend: 'local' }),
    baseImage: 'local/base:x',
    dindImage,
    publicKey: 'ssh-ed25519 AAAA',
    ideVersion: '',
    expectCode: true,
    home: '/h',
  });
}

describe('docker: true', () => {
  it("runs dstack's DinD image, privileged, with the agent told to start dockerd", () => {
    const s = spec(config('docker: true\n'));
    expect([s.image, s.privileged, s.docker]).toEqual(['dstackai/dind', true, true]);
    expect(DEFAULT_DIND_IMAGE).toBe('dstackai/dind');
  });

  it("takes config.yml's dind_image instead, and overrides privileged: false as dstack does", () => {
    const c = config('docker: true\nprivileged: false\n');
    expect(imageFor(c, 'local/base:x', 'local/dind:test')).toBe('local/dind:test');
    const s = spec(c, 'local/dind:test');
    expect([s.image, s.privileged, s.docker]).toEqual(['local/dind:test', true, true]);
  });

  it('leaves other runs as they were', () => {
    const s = spec(config('privileged: true\n'));
    expect([s.image, s.privileged, s.docker]).toEqual(['local/base:x', true, false]);
    expect(spec(config('image: ubuntu\n')).docker).toBe(false);
  });
});

describe('setup and home_dir (deprecated in dstack)', () => {
  it('runs setup right before init, as dstack does', () => {
    expect(spec(config('setup:\n  - echo one\n  - echo two\ninit:\n  - echo three\n')).init).toEqual([
      'echo one',
      'echo two',
      'echo three',
    ]);
    expect(spec(config('init: [echo only]\n')).init).toEqual(['echo only']);
  });

  it('gives home_dir no effect: the spec is the same with or without it', () => {
    expect(spec(config('home_dir: /home/me\ninit: [x]\n'))).toEqual(spec(config('init: [x]\n')));
  });
});

describe('IDE links', () => {
  it.each([
    ['vscode', 'vscode://vscode-remote/ssh-remote+run/workflow'],
    ['cursor', 'cursor://vscode-remote/ssh-remote+run/workflow'],
    ['windsurf', 'windsurf://vscode-remote/ssh-remote+run/workflow'],
    ['zed', 'zed://ssh/run/workflow'],
  ] as const)('%s: %s', (ide, link) => {
    expect(ideLink({ ide }, 'run', '')).toBe(link);
  });

  it('uses the working dir, and gives none without an IDE', () => {
    expect(ideLink({ ide: 'zed' }, 'run', '/home/me/src')).toBe('zed://ssh/run/home/me/src');
    expect(ideLink({ ide: null }, 'run', '/workflow')).toBe('');
  });
});
