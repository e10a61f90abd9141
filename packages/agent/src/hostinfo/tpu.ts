// Google TPUs appear as /dev/accel0..N (one per chip) on TPU VMs.
import type { Gpu } from '@dstack/core/gen/agent';

export function tpusFromDevices(devEntries: string[]): Gpu[] {
  return devEntries
    .map((name) => /^accel(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b)
    .map((index) => ({
      index,
      vendor: 'google',
      name: 'TPU',
      memoryMib: 0,
      uuid: '',
      pciBusId: '',
      computeCapability: '',
      driverVersion: '',
    }));
}
