// The planner's choice with fleets: the real local and ssh backends (the ssh one with hosts in the
// states the daemon hands it; offers need no connection) and the host info an agent reports.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfiguration, type DevEnvironmentConfiguration } from '@dstack/core/config/index';
import type { HostInfo } from '@dstack/core/gen/agent';
import { LocalBackend, resourcesFromHostInfo } from '@dstack/backends/local/local-backend';
import { SshFleetBackend, type FleetHostAvailability, type FleetHostState } from '@dstack/backends/ssh-fleet/backend';
import { fleetHostState } from '@dstack/backends/ssh-fleet/test-helpers';
import { planOffers } from '../runs/planner';
import { isUsable, rankOffers } from './preference';

const h200 = JSON.parse(readFileSync(join(__dirname, '../../../backends/src/local/fixtures/h200-hostinfo.json'), 'utf8')) as HostInfo;
const small: HostInfo = { ...h200, cpus: 2, memoryBytes: 24 * 1024 ** 3, gpus: [] };

function spec(yaml: string): DevEnvironmentConfiguration {
  const r = parseConfiguration('.dstack.yml', `type: dev-environment\n${yaml}`, {});
  if (!r.ok || r.config.type !== 'dev-environment') throw new Error(JSON.stringify(r));
  return r.config;
}

const SMALL = 'resources:\n  cpu: 1..\n  memory: 1GB..\n  disk: 1GB..\n';

const host = (fleet: string, num: number, info: HostInfo, availability: FleetHostAvailability, note?: string): FleetHostState =>
  fleetHostState(fleet, num, availability, { note, resources: resourcesFromHostInfo(info) });

const local = new LocalBackend({ dir: '/nonexistent', hostInfo: async () => small });
const fleet = (hosts: FleetHostState[]) => new SshFleetBackend({ knownHostsFile: '/nonexistent/known_hosts', instances: () => hosts });

describe("the planner's preference", () => {
  it('puts an idle fleet host that fits before this machine, and busy hosts last', async () => {
    const ssh = fleet([host('gpus', 0, small, 'busy', 'busy with run a'), host('gpus', 1, small, 'idle')]);
    const plan = await planOffers([local, ssh], spec(SMALL));
    expect(plan.offers.map((o) => `${o.backend} ${o.instanceName} ${o.availability}`)).toEqual([
      'ssh gpus-1 available',
      'local local available',
      'ssh gpus-0 busy',
    ]);
    expect(plan.reasons).toEqual([]);
  });

  it('keeps this machine when no fleet host is free, unless fleets: or backends: leave it out', async () => {
    const ssh = fleet([host('gpus', 0, small, 'busy', 'busy with run a')]);
    expect((await planOffers([local, ssh], spec(SMALL))).offers.find(isUsable)?.backend).toBe('local');
    for (const only of ['fleets: [gpus]\n', 'backends: [ssh]\n']) {
      const plan = await planOffers([local, ssh], spec(SMALL + only));
      expect(plan.offers.find(isUsable), only).toBeUndefined();
      // Why nothing can be picked, per host.
      expect(plan.reasons, only).toContain('ssh gpus-0 (root@10.0.0.1:22): busy with run a');
    }
  });

  it('picks the host that fits, and says why each other one does not', async () => {
    const ssh = fleet([
      host('gpus', 0, small, 'idle'),
      host('gpus', 1, h200, 'idle'),
      host('gpus', 2, h200, 'unreachable', 'unreachable: no route'),
    ]);
    const plan = await planOffers([local, ssh], spec('fleets: [gpus]\nresources:\n  gpu: H200\n'));
    expect(plan.offers.map((o) => `${o.instanceName} ${o.availability}`)).toEqual(['gpus-1 available', 'gpus-2 not_available']);
    const none = await planOffers([local, ssh], spec('fleets: [gpus]\nresources:\n  gpu: A100\n'));
    expect(none.offers).toEqual([]);
    expect(none.reasons).toEqual(
      expect.arrayContaining([
        'ssh gpus-0: needs 1.. nvidia A100 GPUs, host has none',
        'ssh gpus-1: needs A100 GPUs, host has H200:140GB',
        'ssh gpus-2 (root@10.0.0.3:22): unreachable: no route',
        'local (local): not a fleet instance (fleets: gpus)',
      ]),
    );
  });

  it('names fleets that have no ready host', async () => {
    const plan = await planOffers([local, fleet([host('gpus', 0, small, 'idle')])], spec(`${SMALL}fleets: [cpus]\n`));
    expect(plan.offers).toEqual([]);
    expect(plan.reasons).toContain('fleets: no ready host in a fleet named cpus (see `dstack fleet`)');
  });

  it('orders by price first: a cheaper offer beats a fleet host only when it costs less', () => {
    const o = (backend: string, price: number, fleet = '', availability = 'available') => ({
      backend,
      region: 'r',
      instanceType: 't',
      spot: false,
      price,
      availability,
      instanceName: fleet ? `${fleet}-0` : '',
      fleet,
    });
    expect(
      rankOffers([o('cloud', 0.5), o('local', 0), o('ssh', 0, 'f', 'busy'), o('ssh', 0, 'g')]).map((x) => `${x.backend}${x.fleet}`),
    ).toEqual(['sshg', 'local', 'cloud', 'sshf']);
  });
});
