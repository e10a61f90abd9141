// `volumes:` as the agent gets them: instance volumes become JobSpec mounts (optional kept), and a
// network volume is never sent as if it were not there.
import { describe, expect, it } from 'vitest';
import { parseConfiguration, type DevEnvironmentConfiguration } from '@dstack/core/config/index';
import { Offer } from '@dstack/core/gen/daemon';
import { buildJobSpec, mountsFor } from './job-spec';

function config(body: string): DevEnvironmentConfiguration {
  const r = parseConfiguration('.dstack.yml', `type: dev-environment\nimage: ubuntu\n${body}`, {});
  if (!r.ok || r.config.type !== 'dev-environment') throw new Error(JSON.stringify(r));
  return r.config;
}

describe('job spec mounts', () => {
  it('maps each instance volume, in order, short and object forms alike', () => {
    const c = config('volumes:\n  - /mnt/cache/./pip/:/root/.cache/pip\n  - {instance_path: /srv/hf, path: /hf, optional: true}\n');
    expect(mountsFor(c, undefined)).toEqual([
      { source: '/mnt/cache/pip', target: '/root/.cache/pip', readOnly: false, optional: false },
      { source: '/srv/hf', target: '/hf', readOnly: false, optional: true },
    ]);
    const spec = buildJobSpec({
      jobId: 'j',
      runId: 'r',
      runName: 'run',
      repoId: 'repo',
      config: c,
      secretEnvNames: [],
      offer: Offer.fromPartial({ backend: 'local' }),
      baseImage: null,
      publicKey: 'ssh-ed25519 AAAA',
      ideVersion: '',
      expectCode: true,
      home: '/h',
    });
    expect(spec.mounts).toEqual(mountsFor(c, undefined));
  });

  it('sends no mounts without volumes', () => {
    expect(mountsFor(config(''), undefined)).toEqual([]);
  });

  it('refuses a network volume that does not exist instead of dropping it', () => {
    expect(() => mountsFor(config('volumes: [my-vol:/data, /a:/b]\n'), undefined)).toThrow(
      /^volumes: volume my-vol at \/data: no such volume/,
    );
  });
});
