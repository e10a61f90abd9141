// The planner with the local backend's real offers: host info as the agent reported it on an H200
// host (fixture recorded on that machine) and on this kind of CI machine (no GPU).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfiguration, type DevEnvironmentConfiguration } from '@dstack/core/config/index';
import type { HostInfo } from '@dstack/core/gen/agent';
import type { Offer } from '@dstack/core/gen/daemon';
import type { Backend } from '@dstack/backends/backend';
import { LocalBackend } from '@dstack/backends/local/local-backend';
import { filterOffer, planOffers } from './planner';

const h200 = JSON.parse(readFileSync(join(__dirname, '../../../backends/src/local/fixtures/h200-hostinfo.json'), 'utf8')) as HostInfo;
const cpuOnly: HostInfo = { ...h200, cpus: 2, memoryBytes: 24 * 1024 ** 3, gpus: [] };

function spec(resources: string): DevEnvironmentConfiguration {
  const r = parseConfiguration('.dstack.yml', `type: dev-environment\nresources:\n${resources}`, {});
  if (!r.ok || r.config.type !== 'dev-environment') throw new Error(JSON.stringify(r));
  return r.config;
}

const local = (info: HostInfo) => new LocalBackend({ dir: '/nonexistent', hostInfo: async () => info });

describe('planning on this machine', () => {
  it("offers an H200 host by dstack's GPU name", async () => {
    const plan = await planOffers([local(h200)], spec('  gpu: H200\n'));
    expect(plan.offers).toHaveLength(1);
    expect(plan.offers[0]).toMatchObject({
      backend: 'local',
      region: 'local',
      price: 0,
      resources: { cpus: 16, cpuArch: 'x86', gpus: [{ vendor: 'nvidia', name: 'H200', memoryGb: 140.4, count: 1 }] },
    });
    for (const gpu of ['nvidia', '80GB..', 'H100,H200', '1']) {
      expect((await planOffers([local(h200)], spec(`  gpu: ${gpu}\n`))).offers, gpu).toHaveLength(1);
    }
  });

  it('says why a spec does not fit', async () => {
    const a100 = await planOffers([local(h200)], spec('  gpu: A100\n'));
    expect(a100.offers).toEqual([]);
    expect(a100.reasons).toEqual(['local (local): needs A100 GPUs, host has H200:140GB']);
    const two = await planOffers([local(h200)], spec('  gpu: H200:2\n'));
    expect(two.reasons[0]).toMatch(/^local \(local\): needs 2\.\.2 GPUs/);
    const none = await planOffers([local(cpuOnly)], spec('  gpu: 24GB\n'));
    expect(none.reasons[0]).toMatch(/^local \(local\): .*GPU.*host has none/);
  });

  it('honours spot policy, max price, backends and regions', async () => {
    const base = spec('  cpu: 1..\n  memory: 1GB..\n  disk: 1GB..\n');
    expect((await planOffers([local(cpuOnly)], { ...base, spot_policy: 'spot' })).reasons).toEqual([
      'local (local): not a spot offer (spot_policy: spot)',
    ]);
    expect((await planOffers([local(cpuOnly)], { ...base, backends: ['aws'] })).reasons[0]).toMatch(
      /^no configured backend is in backends: aws/,
    );
    expect((await planOffers([local(cpuOnly)], { ...base, regions: ['us-east-1'] })).offers).toEqual([]);
    expect((await planOffers([local(cpuOnly)], { ...base, max_price: 0.5 })).offers).toHaveLength(1);
  });

  it('leaves container clouds out of a run with registry_auth or privileged, saying why', async () => {
    const base = spec('  cpu: 1..\n  memory: 1GB..\n  disk: 1GB..\n');
    const offer = { ...(await local(cpuOnly).offers()).offers[0], backend: 'runpod', region: '' };
    const pod = { type: 'runpod', containerCloud: true, offers: async () => ({ offers: [offer], reasons: [] }) } as unknown as Backend;
    expect((await planOffers([pod], base)).offers).toHaveLength(1);
    const auth = await planOffers([pod, local(cpuOnly)], { ...base, registry_auth: { username: 'u', password: 'p' } });
    expect(auth.offers.map((o) => o.backend)).toEqual(['local']);
    const priv = await planOffers([pod], { ...base, privileged: true });
    expect(priv.offers).toEqual([]);
    expect(priv.reasons).toEqual(['runpod: privileged: true is not possible where the provider starts the container']);
    expect((await planOffers([pod], { ...base, docker: true })).reasons).toEqual([
      'runpod: docker: true (a privileged container) is not possible where the provider starts the container',
    ]);
    expect((await planOffers([pod], { ...base, registry_auth: { username: 'u', password: 'p' } })).reasons).toEqual([
      'runpod: registry_auth is not passed to container clouds (the provider pulls the image itself): use a public image there',
    ]);
  });

  it('leaves container clouds out of a run with instance volumes unless they are optional; lambda and this machine keep them', async () => {
    const base = spec('  cpu: 1..\n  memory: 1GB..\n  disk: 1GB..\n');
    const offer = { ...(await local(cpuOnly).offers()).offers[0], backend: 'vastai', region: '' };
    const box = { type: 'vastai', containerCloud: true, offers: async () => ({ offers: [offer], reasons: [] }) } as unknown as Backend;
    const vm = { type: 'lambda', offers: async () => ({ offers: [{ ...offer, backend: 'lambda' }], reasons: [] }) } as unknown as Backend;
    const volumes = [
      { instance_path: '/mnt/cache', path: '/cache', optional: false },
      { instance_path: '/srv/hf', path: '/root/.cache/huggingface', optional: true },
    ];
    const required = await planOffers([box, vm, local(cpuOnly)], { ...base, volumes });
    expect(required.offers.map((o) => o.backend).sort()).toEqual(['lambda', 'local']);
    const only = await planOffers([box], { ...base, volumes });
    expect(only.offers).toEqual([]);
    expect(only.reasons).toEqual([
      'vastai: instance volumes (/mnt/cache:/cache) are not possible where the provider starts the container: mark them `optional: true` to run there without them',
    ]);
    const optional = await planOffers([box], { ...base, volumes: [volumes[1]] });
    expect(optional.offers.map((o) => o.backend)).toEqual(['vastai']);
  });

  it('offers nothing for a network volume, in one line naming it, without asking any backend', async () => {
    let asked = 0;
    const counting = {
      type: 'local',
      offers: async () => {
        asked++;
        return local(cpuOnly).offers();
      },
    } as unknown as Backend;
    const base = spec('  cpu: 1..\n');
    const plan = await planOffers([counting], { ...base, volumes: [{ name: ['my-vol'], path: '/data' }] });
    expect(plan).toEqual({
      offers: [],
      total: 0,
      reasons: [
        'volumes: volume my-vol at /data: no such volume: make one with `dstack apply -f` of a `type: volume` file (see `dstack volume list`)',
      ],
      backendErrors: [],
    });
    expect(asked).toBe(0);
  });

  it('reports an agent that does not answer as the reason', async () => {
    const broken = new LocalBackend({ dir: '/nonexistent', hostInfo: async () => Promise.reject(new Error('no agent executable')) });
    const plan = await planOffers([broken], spec('  cpu: 1..\n'));
    expect(plan.reasons).toEqual(['local: the agent on this machine did not answer: no agent executable']);
  });
});

describe('creation_policy: reuse (apply --reuse)', () => {
  it('keeps existing instances only (this machine, fleet hosts, idle cloud instances), saying why the rest went', async () => {
    const [existing] = (await local(cpuOnly).offers()).offers;
    const created: Offer = { ...existing, backend: 'runpod', instanceName: '' };
    const both = { type: 'test', offers: async () => ({ offers: [created, existing], reasons: [] }) } as unknown as Backend;
    const reuse = { ...spec('  cpu: 1..\n'), creation_policy: 'reuse' as const };
    expect(filterOffer(created, reuse)).toBe('a new instance (creation_policy: reuse takes existing ones only)');
    expect(filterOffer(existing, reuse)).toBeUndefined();
    expect((await planOffers([both], reuse)).offers.map((o) => o.backend)).toEqual(['local']);
    expect(await planOffers([both], { ...reuse, resources: spec('  cpu: 64..\n').resources })).toMatchObject({
      offers: [],
      reasons: expect.arrayContaining(['runpod (local): a new instance (creation_policy: reuse takes existing ones only)']),
    });
    expect((await planOffers([both], spec('  cpu: 1..\n'))).offers).toHaveLength(2);
  });
});

describe('a backend whose jobs run on the host (hostOnly: Slurm)', () => {
  const hostOnly: Backend = {
    type: 'slurm',
    hostOnly: true,
    offers: async () => ({ offers: [], reasons: [] }),
    createInstance: async () => {
      throw new Error('unused');
    },
    connect: async () => {
      throw new Error('unused');
    },
    release: async () => {},
    terminate: async () => {},
  };

  it('is left out for an image, docker: true or privileged, naming the backend', async () => {
    const base = spec('  cpu: 1..\n');
    expect((await planOffers([hostOnly], { ...base, image: 'ubuntu:24.04' })).reasons).toEqual([
      'slurm: image: ubuntu:24.04 cannot run there: its jobs run on the host (no container runtime); leave image: out',
    ]);
    expect((await planOffers([hostOnly], { ...base, docker: true })).reasons[0]).toMatch(/^slurm: docker: true cannot run there/);
    expect((await planOffers([hostOnly], { ...base, privileged: true })).reasons[0]).toMatch(/^slurm: privileged: true is for containers/);
    expect((await planOffers([hostOnly], base)).reasons).toEqual([]);
  });
});
