// For tests: a host of fleet `fleet` in the state the daemon would hand the ssh backend.
import type { Resources } from '@dstack/core/gen/daemon';
import type { InstanceRecord } from '../backend';
import type { FleetHostAvailability, FleetHostData, FleetHostState } from './backend';
import { fleetAgentPlacement } from './placement';

export const SMALL_HOST: Resources = { cpus: 8, cpuArch: 'x86', memoryGb: 32, diskGb: 100, gpus: [], spot: false };

export function fleetHostState(
  fleet: string,
  num: number,
  availability: FleetHostAvailability,
  opts: { note?: string; ready?: boolean; resources?: Resources } = {},
): FleetHostState {
  const address = `10.0.0.${num + 1}`;
  const data: FleetHostData = {
    fleet,
    fleetId: `${fleet}-id`,
    num,
    access: { hostname: address, port: 22, user: 'root', identityFile: '/k', hostKey: null, proxyJump: null },
    home: '/root',
    root: true,
    supervisor: 'detached',
  };
  const record: InstanceRecord = {
    instanceId: `${fleet}-id/${address}:22`,
    name: `${fleet}-${num}`,
    backend: 'ssh',
    region: 'remote',
    price: 0,
    offer: {
      backend: 'ssh',
      region: 'remote',
      instanceType: 'ssh',
      spot: false,
      price: 0,
      availability: 'available',
      instanceName: `${fleet}-${num}`,
      fleet,
      resources: opts.resources ?? SMALL_HOST,
    },
    agent: fleetAgentPlacement('/root'),
    reusable: true,
    data: data as unknown as Record<string, unknown>,
  };
  return { record, availability, note: opts.note, ready: opts.ready ?? true };
}
