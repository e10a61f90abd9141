import { describe, expect, it } from 'vitest';
import { parseConfiguration } from './parse';
import { applyProfile, parseProfiles, pickProfile, ProfileNotFoundError, ProfilesError, writtenKeys } from './profiles';
import type { DevEnvironmentConfiguration } from './types';

const REPO = `profiles:
  - name: cheap
    spot_policy: auto
    max_price: 0.5
    backends: [local, runpod]
  - name: long
    default: true
    max_duration: 2h
    retry: true
    idle_duration: off
    creation_policy: reuse
    fleets: [gpus]
`;

const USER = `profiles:
  - name: mine
    default: true
    regions: [us-east-1]
  - name: cheap
    max_price: 9
`;

const files = [
  { path: '.dstack/profiles.yml', text: REPO },
  { path: '~/.dstack/profiles.yml', text: USER },
];

function config(text: string): DevEnvironmentConfiguration {
  const r = parseConfiguration('.dstack.yml', text);
  if (!r.ok || r.config.type !== 'dev-environment') throw new Error(JSON.stringify(r));
  return r.config;
}

describe('parseProfiles', () => {
  it("reads each profile's settings with the configuration's grammar", () => {
    const r = parseProfiles('.dstack/profiles.yml', REPO);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.profiles.map((p) => [p.name, p.default])).toEqual([
      ['cheap', false],
      ['long', true],
    ]);
    expect(r.profiles[0].values).toEqual({ backends: ['local', 'runpod'], spot_policy: 'auto', max_price: 0.5 });
    expect(r.profiles[1].values).toEqual({
      fleets: ['gpus'],
      retry: { on_events: ['no-capacity', 'interruption', 'error'], duration: 3600 },
      max_duration: 7200,
      idle_duration: -1,
      creation_policy: 'reuse',
    });
  });

  it('an empty file has no profiles', () => {
    expect(parseProfiles('p.yml', '')).toEqual({ ok: true, profiles: [] });
    expect(parseProfiles('p.yml', '# nothing yet\n')).toEqual({ ok: true, profiles: [] });
  });

  it('reports every problem at FILE:LINE:COL', () => {
    const text = `profiles:
  - name: a
    max_price: 0
    spot_policy: cheap
  - default: yes
    image: python:3.12
    termination_idle_time: 5m
  - name: b
    max_duration: soon
`;
    const r = parseProfiles('.dstack/profiles.yml', text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => `${e.line}:${e.column}`)).toEqual(['3:16', '4:18', '5:5', '6:5', '7:5', '9:19']);
    expect(r.errors.map((e) => e.message)).toEqual([
      expect.stringContaining('max_price'),
      expect.stringContaining('spot_policy: expected one of spot, on-demand, auto'),
      'missing required key `name`',
      expect.stringMatching(/^unknown key `image` in a profile; allowed: name, default, backends/),
      '`termination_idle_time` is deprecated in dstack: use `idle_duration`',
      expect.stringContaining('invalid duration "soon"'),
    ]);
    expect(r.errors.every((e) => e.file === '.dstack/profiles.yml')).toBe(true);
  });

  it('refuses what is not a list of profiles', () => {
    expect(parseProfiles('p.yml', 'profiles: cheap\n')).toMatchObject({ ok: false, errors: [{ line: 1, column: 11 }] });
    expect(parseProfiles('p.yml', '- name: a\n')).toMatchObject({ ok: false, errors: [{ line: 1, column: 1 }] });
    expect(parseProfiles('p.yml', 'profiles: [\n')).toMatchObject({ ok: false });
    expect(parseProfiles('p.yml', 'profile:\n  - name: a\n')).toMatchObject({
      ok: false,
      errors: [{ line: 1, column: 1, message: 'unknown key `profile` in a profiles file (did you mean `profiles`?)' }],
    });
  });
});

describe('pickProfile (dstack load_profile)', () => {
  it('takes the first file that has the name, else the default of the first file that has one', () => {
    expect(pickProfile(files, 'cheap')).toMatchObject({ name: 'cheap', file: '.dstack/profiles.yml', values: { max_price: 0.5 } });
    expect(pickProfile(files, 'mine')).toMatchObject({ name: 'mine', file: '~/.dstack/profiles.yml' });
    expect(pickProfile(files, '')).toMatchObject({ name: 'long' });
    expect(pickProfile([files[1]], '')).toMatchObject({ name: 'mine' });
    expect(pickProfile([{ path: 'p.yml', text: 'profiles:\n  - name: x\n' }], '')).toBeUndefined();
    expect(pickProfile([], '')).toBeUndefined();
  });

  it('a name found nowhere names the flag and the files', () => {
    expect(() => pickProfile(files, 'gpu')).toThrow(ProfileNotFoundError);
    expect(() => pickProfile(files, 'gpu')).toThrow('--profile "gpu": no such profile in .dstack/profiles.yml or ~/.dstack/profiles.yml');
    expect(() => pickProfile([], 'gpu', '$DSTACK_PROFILE')).toThrow(/^\$DSTACK_PROFILE "gpu": no such profile in no profiles\.yml/);
  });

  it('a bad file is an error once it is read; a later one is read only when needed, as dstack', () => {
    const bad = { path: 'bad.yml', text: 'profiles:\n  - name: x\n    max_price: free\n' };
    expect(() => pickProfile([bad, files[0]], 'cheap')).toThrow(ProfilesError);
    expect(() => pickProfile([bad], 'x')).toThrow(/^bad\.yml:3:16: max_price: /);
    expect(pickProfile([files[0], bad], 'cheap')).toMatchObject({ name: 'cheap' });
  });
});

describe('applyProfile', () => {
  it('fills in only what the file leaves out (a key with nothing after it counts as left out)', () => {
    const text = 'type: dev-environment\nmax_price: 2\nspot_policy:\nbackends: [local]\n';
    const profile = pickProfile(files, 'cheap')!;
    const out = applyProfile(config(text), profile, writtenKeys(text));
    expect(out).toMatchObject({ max_price: 2, spot_policy: 'auto', backends: ['local'] });
  });

  it('leaves the configuration it was given alone', () => {
    const text = 'type: dev-environment\n';
    const before = config(text);
    const out = applyProfile(before, pickProfile(files, 'long')!, writtenKeys(text));
    expect(out).toMatchObject({ max_duration: 7200, idle_duration: -1, creation_policy: 'reuse', fleets: ['gpus'] });
    expect(before).toEqual(config(text));
  });

  it('writtenKeys: the top-level keys with a value', () => {
    expect([...writtenKeys('type: dev-environment\nname: x\nretry:\nmax_price: 1\n')]).toEqual(['type', 'name', 'max_price']);
    expect([...writtenKeys('')]).toEqual([]);
  });
});
