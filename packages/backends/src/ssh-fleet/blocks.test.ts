// Fleet `blocks`: the arithmetic of splitting a host, and the ssh backend placing runs on free blocks.
import type { Resources } from '@dstack/core/gen/daemon';
import { describe, expect, it } from 'vitest';
import { NoCapacityError } from '../backend';
import { SshFleetBackend, type FleetHostState } from './backend';
import { blockGpuIndices, blockResources, formatGpuBlocks, parseGpuBlocks, pickBlocks, totalBlocks } from './blocks';
import { fleetHostState } from './test-helpers';

const H200x8: Resources = {
  cpus: 96,
  cpuArch: 'x86',
  memoryGb: 1024,
  diskGb: 2000,
  gpus: [{ vendor: 'nvidia', name: 'H200', memoryGb: 141, count: 8 }],
  spot: false,
};
const CPU_ONLY: Resources = { cpus: 8, cpuArch: 'x86', memoryGb: 32, diskGb: 100, gpus: [], spot: false };

describe('block arithmetic', () => {
  it('resolves N and auto against the host', () => {
    expect(totalBlocks('auto', H200x8)).toBe(8);
    expect(totalBlocks('auto', CPU_ONLY)).toBe(1);
    expect(totalBlocks(4, H200x8)).toBe(4);
    expect(totalBlocks(16, H200x8)).toBe(8); // never a block without a GPU on a GPU host
    expect(totalBlocks(4, CPU_ONLY)).toBe(4);
    expect(totalBlocks(undefined, H200x8)).toBe(1);
  });

  it('gives k blocks k times one block of GPUs, CPUs and memory; disk stays whole', () => {
    const two = blockResources(H200x8, 4, 2);
    expect(two.gpus).toEqual([{ vendor: 'nvidia', name: 'H200', memoryGb: 141, count: 4 }]);
    expect([two.cpus, two.memoryGb, two.diskGb]).toEqual([48, 512, 2000]);
    expect(blockResources(CPU_ONLY, 4, 1)).toMatchObject({ cpus: 2, memoryGb: 8, gpus: [] });
    expect(blockResources(H200x8, 1, 1)).toBe(H200x8);
  });

  it('maps blocks to contiguous GPU indices', () => {
    expect(blockGpuIndices(H200x8, 4, [1])).toEqual([2, 3]);
    expect(blockGpuIndices(H200x8, 4, [3, 0])).toEqual([0, 1, 6, 7]);
    expect(blockGpuIndices(H200x8, 8, [5])).toEqual([5]);
    expect(blockGpuIndices(CPU_ONLY, 4, [2])).toEqual([]);
  });

  it('picks the lowest free blocks, or none when too few are free', () => {
    expect(pickBlocks(4, [0, 2], 2)).toEqual([1, 3]);
    expect(pickBlocks(4, [0, 2], 3)).toBeUndefined();
    expect(pickBlocks(2, [], 1)).toEqual([0]);
  });

  it('stores a run blocks as "indices/total"', () => {
    expect(formatGpuBlocks({ indices: [0, 3], total: 4 })).toBe('0,3/4');
    expect(parseGpuBlocks('0,3/4')).toEqual({ indices: [0, 3], total: 4 });
    expect(parseGpuBlocks('')).toBeUndefined();
  });
});

describe('placement on a split host', () => {
  const split = (held: { name: string; blocks: number[] }[] = [], total = 4): FleetHostState => ({
    ...fleetHostState('f', 0, held.flatMap((h) => h.blocks).length >= total ? 'busy' : 'idle', { resources: H200x8 }),
    totalBlocks: total,
    held,
  });

  it('offers each count of free blocks with its share of the host', async () => {
    const { offers } = await new SshFleetBackend({
      knownHostsFile: '/nonexistent',
      instances: () => [split([{ name: 'a-0', blocks: [1] }])],
    }).offers();
    expect(offers.map((o) => [o.blocks, o.totalBlocks, o.resources?.gpus[0].count, o.availability])).toEqual([
      [1, 4, 2, 'available'],
      [2, 4, 4, 'available'],
      [3, 4, 6, 'available'],
    ]);
  });

  it('places runs on distinct blocks, and says so when none is free', async () => {
    let state = split([], 2);
    const b = new SshFleetBackend({ knownHostsFile: '/nonexistent', instances: () => [state] });
    const one = (await b.offers()).offers.find((o) => o.blocks === 1)!;
    const a = await b.createInstance({ offer: one, name: 'a-0', sshPublicKey: '' });
    expect(a.blocks).toEqual({ indices: [0], total: 2 });
    // Not yet recorded by the daemon: the claim alone keeps block 0 taken.
    const c = await b.createInstance({ offer: one, name: 'c-0', sshPublicKey: '' });
    expect(c.blocks).toEqual({ indices: [1], total: 2 });
    expect((await b.offers()).offers.map((o) => o.availability)).toEqual(['busy']);
    await expect(b.createInstance({ offer: one, name: 'd-0', sshPublicKey: '' })).rejects.toBeInstanceOf(NoCapacityError);
    // The daemon records both; a asks again (a resumed flow) and gets the same block.
    state = split(
      [
        { name: 'a-0', blocks: [0] },
        { name: 'c-0', blocks: [1] },
      ],
      2,
    );
    expect((await b.createInstance({ offer: one, name: 'a-0', sshPublicKey: '' })).blocks).toEqual({ indices: [0], total: 2 });
    // a ends: its block is free again for the next run.
    state = split([{ name: 'c-0', blocks: [1] }], 2);
    expect((await b.createInstance({ offer: one, name: 'd-0', sshPublicKey: '' })).blocks).toEqual({ indices: [0], total: 2 });
  });
});
