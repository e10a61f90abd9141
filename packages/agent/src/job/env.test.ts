// The job's env: a split fleet host's GPUs narrowed by index on the host, counted in a container.
import { JobSpec } from '@dstack/core/gen/agent';
import { describe, expect, it } from 'vitest';
import { jobEnv } from './env';

const spec = (indices: number[], vendor = 'nvidia') =>
  JobSpec.fromPartial({ runName: 'r', repoId: 'x', gpus: { count: indices.length, all: false, vendor, indices } });

describe('jobEnv', () => {
  it('names the blocks GPUs on the host and counts them everywhere', () => {
    expect(jobEnv(spec([2, 3]), '/w', 8, 'host')).toMatchObject({ CUDA_VISIBLE_DEVICES: '2,3', DSTACK_GPUS_NUM: '2' });
    expect(jobEnv(spec([1], 'amd'), '/w', 2, 'host')).toMatchObject({ ROCR_VISIBLE_DEVICES: '1', HIP_VISIBLE_DEVICES: '1' });
    const docker = jobEnv(spec([1]), '/w', 2, 'docker');
    expect(docker.CUDA_VISIBLE_DEVICES).toBeUndefined();
    expect(docker.DSTACK_GPUS_NUM).toBe('1');
    expect(jobEnv(spec([]), '/w', 2, 'host').CUDA_VISIBLE_DEVICES).toBeUndefined();
  });
});
