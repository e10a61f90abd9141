// Network volumes in the daemon: the service (apply makes or registers one at its backend, the same
// file again changes nothing, delete refused while a run names it, a registered one only forgotten),
// and planning with them (only offers that can attach; a provider-picked data center pinned to the
// volume's; a backend without volumes named; the job's mounts for a volume the host has).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfiguration, type DevEnvironmentConfiguration } from '@dstack/core/config/index';
import type { Offer } from '@dstack/core/gen/daemon';
import type { Backend } from '@dstack/backends/backend';
import type { NetworkVolume, VolumeSupport } from '@dstack/backends/volumes';
import { planOffers } from '../runs/planner';
import { mountsFor } from '../runs/job-spec';
import { openDb } from '../state/db';
import { hostVolumeMounts, volumeAttachments } from './attach';
import { VolumeService } from './service';
import { VolumesStore } from './store';
import type { Logger } from '../logger';

const dir = mkdtempSync(join(tmpdir(), 'dstack-volumes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** A provider's volumes in memory. */
function fakeVolumes(mount: 'provider' | 'host', maxPerInstance = 1): VolumeSupport & { made: NetworkVolume[] } {
  const made: NetworkVolume[] = [];
  return {
    mount,
    maxPerInstance,
    made,
    async create(req) {
      const v = { id: `id-${made.length}`, name: req.name, region: req.region, sizeGb: req.sizeGb, providerState: 'available' };
      made.push(v);
      return v;
    },
    async get(id) {
      return made.find((v) => v.id === id) ?? null;
    },
    async delete(id) {
      made.splice(
        made.findIndex((v) => v.id === id),
        1,
      );
    },
    ...(mount === 'host' ? { hostPath: (v: NetworkVolume) => `/lambda/nfs/${v.name}` } : {}),
  };
}

const offer = (backend: string, region: string, extra: Partial<Offer> = {}): Offer => ({
  backend,
  region,
  instanceType: `${backend}-type`,
  resources: { cpus: 8, cpuArch: 'x86', memoryGb: 32, diskGb: 100, gpus: [], spot: false },
  spot: false,
  price: 1,
  availability: 'available',
  instanceName: '',
  fleet: '',
  ...extra,
});

function backend(type: string, offers: Offer[], volumes?: VolumeSupport): Backend {
  return { type, offers: async () => ({ offers, reasons: [] }), ...(volumes ? { volumes } : {}) } as unknown as Backend;
}

function setup() {
  const db = openDb(join(dir, `${n++}.db`));
  const store = new VolumesStore(db);
  const runpod = fakeVolumes('provider');
  const lambda = fakeVolumes('host');
  const backends = [
    backend('runpod', [offer('runpod', ''), offer('runpod', 'US-KS-2', { price: 0.5 })], runpod),
    backend(
      'lambda',
      [offer('lambda', 'us-east-1'), offer('lambda', 'us-west-1'), offer('lambda', 'us-east-1', { instanceName: 'idle-1' })],
      lambda,
    ),
    backend('local', [offer('local', 'local', { price: 0 })]),
  ];
  const runs: { name: string; configuration: Pick<DevEnvironmentConfiguration, 'volumes'> }[] = [];
  const lines: string[] = [];
  const log = { info: (m: string) => lines.push(m) } as unknown as Logger;
  const service = new VolumeService({ store, backends: () => backends, activeRuns: () => runs, log });
  const apply = (text: string) => service.apply({ path: '/p/vol.dstack.yml', text } as Parameters<VolumeService['apply']>[0]);
  return { store, runpod, lambda, backends, runs, service, apply, lines };
}

function dev(body: string): DevEnvironmentConfiguration {
  const r = parseConfiguration('.dstack.yml', `type: dev-environment\n${body}`, {});
  if (!r.ok || r.config.type !== 'dev-environment') throw new Error(JSON.stringify(r));
  return r.config;
}

const runpodVol = 'type: volume\nname: data\nbackend: runpod\nregion: EU-RO-1\nsize: 50GB\n';
const lambdaVol = 'type: volume\nname: cache\nbackend: lambda\nregion: us-east-1\nsize: 10GB\n';

describe('the volume service', () => {
  it('makes a volume at its backend under the daemon’s name, once', async () => {
    const t = setup();
    const v = await t.apply(runpodVol);
    expect(v).toMatchObject({
      name: 'data',
      backend: 'runpod',
      region: 'EU-RO-1',
      status: 'active',
      sizeGb: 50,
      volumeId: 'id-0',
      external: false,
    });
    expect(t.runpod.made).toEqual([{ id: 'id-0', name: 'data', region: 'EU-RO-1', sizeGb: 50, providerState: 'available' }]);
    // Again: the same volume, nothing made.
    expect(await t.apply(runpodVol)).toMatchObject({ name: 'data', volumeId: 'id-0' });
    expect(t.runpod.made).toHaveLength(1);
    // Another file of the same name: refused.
    await expect(t.apply(runpodVol.replace('50GB', '60GB'))).rejects.toThrow(/volume data exists already .*delete it first/);
    // Lambda's is found on the instance at its mount point.
    expect((await t.apply(lambdaVol)).name).toBe('cache');
    expect(t.store.get('cache')!.hostPath).toBe('/lambda/nfs/cache');
  });

  it('registers an existing one by volume_id and only forgets it on delete', async () => {
    const t = setup();
    const existing = await t.runpod.create({ name: 'theirs', region: 'US-KS-2', sizeGb: 20 });
    const v = await t.apply(`type: volume\nname: theirs\nbackend: runpod\nvolume_id: ${existing.id}\n`);
    expect(v).toMatchObject({ region: 'US-KS-2', sizeGb: 20, external: true, volumeId: existing.id });
    await t.service.delete('theirs');
    expect(t.runpod.made).toEqual([existing]);
    await expect(t.apply('type: volume\nname: gone\nbackend: runpod\nvolume_id: nope\n')).rejects.toThrow(
      'runpod has no volume with id nope',
    );
    expect(t.store.get('gone')).toBeUndefined();
  });

  it('names the backend that is not configured or has no volumes; a bad file at its place', async () => {
    const t = setup();
    await expect(t.apply(runpodVol.replace('runpod', 'aws'))).rejects.toThrow(
      '/p/vol.dstack.yml: backend aws is not configured (configured: runpod, lambda, local; add it with `dstack backend add aws`)',
    );
    await expect(t.apply(runpodVol.replace('runpod', 'local'))).rejects.toThrow(
      '/p/vol.dstack.yml: backend local has no network volumes (configured backends that have them: runpod, lambda)',
    );
    await expect(t.apply('type: volume\nname: x\nbackend: runpod\nregion: EU-RO-1\n')).rejects.toThrow(
      /\/p\/vol\.dstack\.yml:1:1: missing `size`/,
    );
  });

  it('refuses to delete a volume an active run names; deletes it at the provider after', async () => {
    const t = setup();
    await t.apply(runpodVol);
    t.runs.push({ name: 'dev', configuration: dev('volumes: [data:/data]\n') });
    expect(t.service.list()[0].attachedTo).toEqual(['dev']);
    await expect(t.service.delete('data')).rejects.toThrow('volume data is attached to run dev: stop it first (dstack stop)');
    t.runs.pop();
    await t.service.delete('data');
    expect(t.runpod.made).toEqual([]);
    expect(t.service.list()).toEqual([]);
    await expect(t.service.delete('data')).rejects.toThrow('no volume named data');
  });
});

describe('planning a run with network volumes', () => {
  it('keeps the offers that can attach, pins a provider-picked data center, and says why others are left out', async () => {
    const t = setup();
    await t.apply(runpodVol);
    const c = dev('volumes: [data:/data]\nresources:\n  cpu: 1..\n  memory: 1GB..\n  disk: 1GB..\n');
    const plan = await planOffers(t.backends, c, { volumes: t.store });
    expect(plan.offers.map((o) => `${o.backend} ${o.region}`)).toEqual(['runpod EU-RO-1']);
    const why = (
      await planOffers(
        t.backends,
        { ...c, volumes: [{ name: ['data'], path: '/data' }], backends: ['lambda', 'local'] },
        { volumes: t.store },
      )
    ).reasons;
    expect(why).toEqual([
      'lambda: volume data is not on lambda (volume data at runpod (EU-RO-1))',
      'local: has no network volumes (volume data at runpod (EU-RO-1))',
    ]);
    const other = await planOffers(t.backends, { ...c, regions: ['US-KS-2'] }, { volumes: t.store });
    expect(other.offers).toEqual([]);
    expect(other.reasons).toContain('runpod (US-KS-2): volume data is at runpod (EU-RO-1), not in US-KS-2');
    // What the pod is made with.
    expect(volumeAttachments(t.store, c.volumes, plan.offers[0])).toEqual([
      { volume: { id: 'id-0', name: 'data', region: 'EU-RO-1', sizeGb: 50, providerState: 'active' }, path: '/data' },
    ]);
    // RunPod mounts it itself: no job mount.
    expect(mountsFor(c, t.store, plan.offers[0])).toEqual([]);
  });

  it('a host-mounted volume (Lambda): its region only, no existing instance, and the job binds its folder', async () => {
    const t = setup();
    await t.apply(lambdaVol);
    const c = dev('volumes:\n  - name: cache\n    path: /cache\n  - /srv/x:/x\nresources:\n  cpu: 1..\n  memory: 1GB..\n  disk: 1GB..\n');
    const plan = await planOffers(t.backends, { ...c, backends: ['lambda'] }, { volumes: t.store });
    expect(plan.offers.map((o) => `${o.backend} ${o.region} ${o.instanceName}`)).toEqual(['lambda us-east-1 ']);
    const none = await planOffers(t.backends, { ...c, backends: ['lambda'], regions: ['us-west-1'] }, { volumes: t.store });
    expect(none.reasons).toEqual(
      expect.arrayContaining([
        'lambda (us-west-1): volume cache is at lambda (us-east-1), not in us-west-1',
        'lambda idle-1: an existing instance: network volumes attach when an instance is made',
      ]),
    );
    expect(mountsFor(c, t.store, plan.offers[0])).toEqual([
      { source: '/srv/x', target: '/x', readOnly: false, optional: false },
      { source: '/lambda/nfs/cache', target: '/cache', readOnly: false, optional: false },
    ]);
    expect(hostVolumeMounts(t.store, c.volumes, { backend: 'lambda', region: 'us-east-1' })).toHaveLength(1);
  });

  it('`name: [a, b]` takes the first the offer can have; more volumes than an instance takes name the backend', async () => {
    const t = setup();
    await t.apply(runpodVol);
    await t.apply(lambdaVol);
    const either = dev('volumes:\n  - name: [cache, data]\n    path: /d\nresources:\n  cpu: 1..\n  memory: 1GB..\n  disk: 1GB..\n');
    const plan = await planOffers(t.backends, either, { volumes: t.store });
    expect(plan.offers.map((o) => `${o.backend} ${o.region}`).sort()).toEqual(['lambda us-east-1', 'runpod EU-RO-1']);
    const two = dev('volumes: [data:/a, cache:/b]\n');
    const refused = await planOffers(t.backends, { ...two, backends: ['runpod'] }, { volumes: t.store });
    expect(refused.reasons).toEqual([
      'runpod: volume cache is not on runpod (volume data at runpod (EU-RO-1); volume cache at lambda (us-east-1))',
    ]);
  });
});
