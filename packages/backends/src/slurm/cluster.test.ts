// The formats as Slurm 22.05's daemons print them (captured from the test cluster in test/clusters).
import { describe, expect, it } from 'vitest';
import type { ResourcesSpec } from '@dstack/core/resources/types';
import { batchScript, describeNodes, jobEnd, offersFor, parseGres, parseSinfo, parseSqueue } from './cluster';

const SINFO = [
  'c1|cpu*|idle|0/4/0/4|16000|0|(null)|gpu:0|10.177.1.2|',
  'c2|gpu|mixed|1/3/0/4|16000|1000|gpu:h100:1|gpu:h100:1(IDX:0)|10.177.2.2|',
  'c3|gpu|down*|0/0/4/4|16000|0|gpu:h100:1|gpu:h100:0(IDX:N/A)|10.177.3.2|',
  'c2|debug|mixed|1/3/0/4|16000|1000|gpu:h100:1|gpu:h100:1(IDX:0)|10.177.2.2|',
  '',
].join('\n');

const spec = (cpu: number, memory: number, gpus: number): ResourcesSpec => ({
  cpu: { arch: null, count: { min: cpu, max: null } },
  memory: { min: memory, max: null },
  shm_size: null,
  gpu: { vendor: null, name: null, count: { min: gpus, max: null }, memory: null, total_memory: null, compute_capability: null },
  disk: { size: { min: 10, max: null } },
});

describe('slurm cluster output', () => {
  it('reads nodes from sinfo -N -O, one per node with all its partitions', () => {
    const nodes = parseSinfo(SINFO);
    expect(nodes.map((n) => [n.name, n.partitions])).toEqual([
      ['c1', ['cpu']],
      ['c2', ['gpu', 'debug']],
      ['c3', ['gpu']],
    ]);
    expect(nodes[1]).toMatchObject({ addr: '10.177.2.2', cpus: 4, cpusFree: 3, memoryMb: 16000, memoryFreeMb: 15000, gpusUsed: 1 });
    expect(nodes[1].gpus).toEqual([{ type: 'h100', count: 1 }]);
  });

  it('reads gres with and without a type, sockets and other kinds', () => {
    expect(parseGres('gpu:a100:2(S:0-1),gpu:1,shard:8')).toEqual([
      { type: 'a100', count: 2 },
      { type: '', count: 1 },
    ]);
    expect(parseGres('(null)')).toEqual([]);
  });

  it('offers one per partition and node shape, sized to the spec, a down partition not available', () => {
    const offers = offersFor('lab', parseSinfo(SINFO), spec(2, 8, 1));
    expect(offers.map((o) => [o.instanceType, o.availability, o.resources?.cpus, o.resources?.memoryGb, o.resources?.gpus])).toEqual([
      ['cpu', 'available', 2, 8, []],
      ['gpu', 'available', 2, 8, [{ vendor: 'nvidia', name: 'H100', memoryGb: 0, count: 1 }]],
      ['debug', 'available', 2, 8, [{ vendor: 'nvidia', name: 'H100', memoryGb: 0, count: 1 }]],
    ]);
    expect(offers[0]).toMatchObject({ backend: 'slurm', region: 'lab', price: 0 });
    // More than a node has: the node's all, for the planner to say why it does not fit.
    expect(offersFor('lab', parseSinfo(SINFO), spec(64, 8, 0))[0].resources?.cpus).toBe(4);
    // Only the listed partitions.
    expect(offersFor('lab', parseSinfo(SINFO), undefined, ['debug']).map((o) => o.instanceType)).toEqual(['debug']);
    const down = offersFor('lab', parseSinfo(SINFO.split('\n')[2]));
    expect(down[0].availability).toBe('not_available');
  });

  it('describes free of total per node', () => {
    expect(describeNodes(parseSinfo(SINFO).slice(0, 2))).toBe(
      'c1 (cpu, idle): CPU 4/4, memory 15/15GB free; c2 (gpu,debug, mixed): CPU 3/4, memory 14/15GB, GPU 0/1 h100 free',
    );
  });

  it('reads squeue and tells a taken-back job from one that ended', () => {
    expect(parseSqueue('12|dstack-ab-x-0|PENDING|Resources|\n13|y|RUNNING|None|c2\n')).toEqual([
      { id: '12', name: 'dstack-ab-x-0', state: 'PENDING', reason: 'Resources', nodes: '' },
      { id: '13', name: 'y', state: 'RUNNING', reason: 'None', nodes: 'c2' },
    ]);
    expect(jobEnd('RUNNING', 'None')).toBeUndefined();
    expect(jobEnd('NODE_FAIL', 'None')).toEqual({ interrupted: true, what: 'NODE_FAIL' });
    expect(jobEnd('TIMEOUT', 'TimeLimit')).toEqual({ interrupted: false, what: 'TIMEOUT (TimeLimit)' });
  });

  it('writes the batch script: resources, --time, no requeue, the agent started when the daemon says', () => {
    const s = batchScript({
      jobName: 'dstack-ab-x-0',
      partition: 'gpu',
      cpus: 2,
      memoryMb: 8192,
      gpus: 1,
      gpuType: 'h100',
      timeMinutes: 120,
      dataDir: '/home/a b/.dstack-agent/slurm/dstack-ab-x-0',
      binPath: '/home/a b/.dstack-agent/bin/dstack-agent',
      socketPath: '/home/a b/.dstack-agent/slurm/dstack-ab-x-0/agent.sock',
      logFile: '/home/a b/.dstack-agent/slurm/dstack-ab-x-0/agent.log',
      startWaitS: 600,
    });
    for (const d of [
      '--job-name=dstack-ab-x-0',
      '--no-requeue',
      '--partition=gpu',
      '--cpus-per-task=2',
      '--mem=8192M',
      '--gres=gpu:h100:1',
      '--time=120',
    ])
      expect(s).toContain(`#SBATCH ${d}\n`);
    expect(s).toContain("D='/home/a b/.dstack-agent/slurm/dstack-ab-x-0'");
    expect(s).toContain(`'/home/a b/.dstack-agent/bin/dstack-agent' serve --data-dir "$D"`);
  });
});
