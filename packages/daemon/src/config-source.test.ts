// readSource with dstack's profiles and apply's run flags: the flags win over the file, the file over
// the profile; a bad profiles.yml or an unknown profile is refused before anything else.
import { describe, expect, it } from 'vitest';
import { CONFIGURATION_ERRORS_HEADER } from '@dstack/core/config/source';
import { ConfigurationOverrides, type ConfigurationSource, type Profiles } from '@dstack/core/gen/daemon';
import { BadRequestError } from '@dstack/core/grpc';
import { readSource } from './config-source';

const PROFILES = `profiles:
  - name: long
    default: true
    max_duration: 2h
    max_price: 0.5
    backends: [local]
  - name: quick
    max_duration: 10m
    retry: true
`;

function source(text: string, over: Partial<ConfigurationSource> = {}): ConfigurationSource {
  return { path: '.dstack.yml', text, cwd: '/work', env: [], callerEnv: {}, ...over };
}

const profiles = (name = '', flag = '--profile'): Profiles => ({
  name,
  flag,
  files: [{ path: '.dstack/profiles.yml', text: PROFILES }],
});

const read = (src: ConfigurationSource) => readSource(src, 'dev-environment', 'ApplyRun').config;

describe('readSource: profiles and run flags', () => {
  it('the default profile fills in what the file leaves out; --profile picks another', () => {
    const text = 'type: dev-environment\nmax_price: 1\n';
    expect(read(source(text, { profiles: profiles() }))).toMatchObject({ max_duration: 7200, max_price: 1, backends: ['local'] });
    expect(read(source(text, { profiles: profiles('quick') }))).toMatchObject({
      max_duration: 600,
      max_price: 1,
      backends: null,
      retry: { duration: 3600 },
    });
    expect(read(source(text))).toMatchObject({ max_duration: null, backends: null });
  });

  it('the flags come on top of both', () => {
    const text = 'type: dev-environment\nname: from-file\nmax_duration: 1h\n';
    const overrides = ConfigurationOverrides.fromPartial({ name: 'other-name', maxDuration: '30s', backends: ['ssh'], retry: false });
    expect(read(source(text, { profiles: profiles('quick'), overrides }))).toMatchObject({
      name: 'other-name',
      max_duration: 30,
      backends: ['ssh'],
      retry: null,
    });
    expect(
      read(source(text, { overrides: ConfigurationOverrides.fromPartial({ creationPolicy: 'reuse', idleDuration: 'off' }) })),
    ).toMatchObject({
      name: 'from-file',
      creation_policy: 'reuse',
      idle_duration: -1,
    });
  });

  it('refuses a profile found nowhere, naming what asked for it', () => {
    expect(() => read(source('type: dev-environment\n', { profiles: profiles('gpu') }))).toThrow(
      '--profile "gpu": no such profile in .dstack/profiles.yml',
    );
    expect(() => read(source('type: dev-environment\n', { profiles: { name: 'gpu', flag: '$DSTACK_PROFILE', files: [] } }))).toThrow(
      /^\$DSTACK_PROFILE "gpu": no such profile/,
    );
  });

  it("refuses a bad profiles.yml with its problems at FILE:LINE:COL, under the CLI's header", () => {
    const bad: Profiles = {
      name: '',
      flag: '--profile',
      files: [{ path: '~/.dstack/profiles.yml', text: 'profiles:\n  - name: x\n    max_price: -1\n' }],
    };
    let err: unknown;
    try {
      read(source('type: dev-environment\n', { profiles: bad }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BadRequestError);
    const [header, ...lines] = (err as Error).message.split('\n');
    expect(header).toBe(CONFIGURATION_ERRORS_HEADER);
    expect(lines).toEqual([expect.stringMatching(/^~\/\.dstack\/profiles\.yml:3:16: max_price: /)]);
  });

  it('profiles and run flags are for runs: a fleet ignores a default profile, refuses a named one and the flags', () => {
    const fleet = 'type: fleet\nssh_config:\n  user: u\n  identity_file: /k\n  hosts: [h]\n';
    expect(readSource(source(fleet, { profiles: profiles() }), 'fleet', 'ApplyFleet').config.type).toBe('fleet');
    expect(() => readSource(source(fleet, { profiles: profiles('long') }), 'fleet', 'ApplyFleet')).toThrow(
      '--profile "long": profiles are for runs, not for fleets',
    );
    expect(() =>
      readSource(source(fleet, { overrides: ConfigurationOverrides.fromPartial({ backends: ['local'] }) }), 'fleet', 'ApplyFleet'),
    ).toThrow(/are for runs, not for fleets/);
    // Empty lists and an unset retry are no flags at all.
    expect(readSource(source(fleet, { overrides: ConfigurationOverrides.fromPartial({}) }), 'fleet', 'ApplyFleet').config.type).toBe(
      'fleet',
    );
  });
});
