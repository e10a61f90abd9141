// The ssh backend's offers and claims, with hosts in the states the daemon hands it (no connection
// is made: offers and claims need none).
import { describe, expect, it } from 'vitest';
import { NoCapacityError } from '../backend';
import { SshFleetBackend, type FleetHostAvailability, type FleetHostState } from './backend';
import { fleetHostState } from './test-helpers';

const host = (num: number, availability: FleetHostAvailability, note?: string, ready = true) =>
  fleetHostState('f', num, availability, { note, ready });

const backend = (hosts: FleetHostState[]) => new SshFleetBackend({ knownHostsFile: '/nonexistent/known_hosts', instances: () => hosts });

describe('ssh fleet backend', () => {
  it('offers every ready host at $0 with its availability, and says why the others are not available', async () => {
    const b = backend([
      host(0, 'idle'),
      host(1, 'busy', 'busy with run a'),
      host(2, 'unreachable', 'unreachable: timeout'),
      host(3, 'unavailable', 'failed: auth', false),
    ]);
    const { offers, reasons } = await b.offers();
    expect(offers.map((o) => [o.instanceName, o.availability, o.price, o.backend, o.fleet])).toEqual([
      ['f-0', 'available', 0, 'ssh', 'f'],
      ['f-1', 'busy', 0, 'ssh', 'f'],
      ['f-2', 'not_available', 0, 'ssh', 'f'],
    ]);
    expect(reasons).toEqual([
      'ssh f-1 (root@10.0.0.2:22): busy with run a',
      'ssh f-2 (root@10.0.0.3:22): unreachable: timeout',
      'ssh f-3 (root@10.0.0.4:22): failed: auth',
    ]);
  });

  it('claims a host for one run until it is released; the same run may ask again', async () => {
    const b = backend([host(0, 'idle')]);
    const [offer] = (await b.offers()).offers;
    const record = await b.createInstance({ offer, name: 'a-0', sshPublicKey: '' });
    expect(record.name).toBe('f-0');
    expect((await b.offers()).offers[0].availability).toBe('busy');
    await expect(b.createInstance({ offer, name: 'b-0', sshPublicKey: '' })).rejects.toBeInstanceOf(NoCapacityError);
    expect(await b.createInstance({ offer, name: 'a-0', sshPublicKey: '' })).toBe(record);
    await b.release(record);
    expect((await b.createInstance({ offer, name: 'b-0', sshPublicKey: '' })).name).toBe('f-0');
  });

  it('refuses a host that is busy, unreachable or gone as no capacity', async () => {
    const busy = host(0, 'busy', 'busy with run a');
    const b = backend([busy]);
    await expect(b.createInstance({ offer: busy.record.offer, name: 'x-0', sshPublicKey: '' })).rejects.toThrow(
      /^fleet host f-0 is busy with run a$/,
    );
    await expect(backend([]).createInstance({ offer: busy.record.offer, name: 'x-0', sshPublicKey: '' })).rejects.toThrow(NoCapacityError);
  });
});
