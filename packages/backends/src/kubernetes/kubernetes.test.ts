import { describe, expect, it } from 'vitest';
import { nodeCapacity, nodeOffer } from './offers';
import { podManifest } from './pod-spec';
import { parseQuantity } from './quantity';
import { podInstance } from './compute';

describe('kubernetes offers and pods', () => {
  it('parses quantities as the API writes them', () => {
    expect(parseQuantity('3500m')).toBe(3.5);
    expect(parseQuantity('16Gi')).toBe(16 * 2 ** 30);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(parseQuantity('128974848')).toBe(128974848);
    expect(parseQuantity('2k')).toBe(2000);
    expect(parseQuantity(undefined)).toBe(0);
    expect(parseQuantity('12 apples')).toBeNaN();
  });

  it('offers what is free on a node: allocatable minus the requests of pods that have not ended', () => {
    const node = {
      metadata: {
        name: 'gpu-1',
        labels: { 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3', 'nvidia.com/gpu.memory': '81559', 'kubernetes.io/arch': 'amd64' },
      },
      status: {
        allocatable: { cpu: '15800m', memory: '64Gi', 'nvidia.com/gpu': '4', 'ephemeral-storage': '100Gi' },
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    };
    const pods = [
      {
        spec: { containers: [{ resources: { requests: { cpu: '2', memory: '8Gi', 'nvidia.com/gpu': '1' } } }] },
        status: { phase: 'Running' },
      },
      { spec: { containers: [{ resources: { requests: { cpu: '4', 'nvidia.com/gpu': '2' } } }] }, status: { phase: 'Succeeded' } },
      {
        spec: { containers: [{ resources: { requests: { cpu: '500m' } } }, { resources: { requests: { cpu: '300m' } } }] },
        status: { phase: 'Pending' },
      },
    ];
    const c = nodeCapacity(node, pods);
    expect(c.gpus).toEqual({ vendor: 'nvidia', name: 'H100', memoryGb: 81559 / 1024, free: 3, total: 4 });
    expect(nodeOffer(c, 'prod', 0)).toMatchObject({
      backend: 'kubernetes',
      region: 'prod',
      instanceType: 'gpu-1',
      availability: 'available',
      resources: { cpus: 13, memoryGb: 56, diskGb: 100, cpuArch: 'x86', gpus: [{ vendor: 'nvidia', name: 'H100', count: 3 }] },
    });
    const amd = nodeCapacity(
      {
        metadata: { name: 'mi', labels: { 'amd.com/gpu.product-name': 'AMD_Instinct_MI300X_OAM', 'amd.com/gpu.vram': '192G' } },
        spec: { unschedulable: true },
        status: { allocatable: { cpu: '8', memory: '32Gi', 'amd.com/gpu': '8' }, conditions: [{ type: 'Ready', status: 'True' }] },
      },
      [],
    );
    expect(amd.gpus).toMatchObject({ vendor: 'amd', name: 'MI300X', memoryGb: 179, free: 8 });
    expect(nodeOffer(amd, 'prod', 0).availability).toBe('not_available');
  });

  it('a pod requests the run’s minimums, limits memory and GPUs, and pins the offer’s node', () => {
    const pod = podManifest({
      name: 'dstack-0123abcd-r-0',
      namespace: 'ml',
      homeId: '0123abcd',
      runName: 'r',
      image: 'img',
      command: ['/bin/sh', '-c', 'x'],
      sshPort: 10022,
      hostname: 'gpu-1',
      offer: {
        backend: 'kubernetes',
        region: 'prod',
        instanceType: 'gpu-1',
        resources: {
          cpus: 13,
          cpuArch: 'x86',
          memoryGb: 56,
          diskGb: 100,
          gpus: [{ vendor: 'amd', name: 'MI300X', memoryGb: 192, count: 3 }],
          spot: false,
        },
        spot: false,
        price: 0,
        availability: 'available',
        instanceName: '',
        fleet: '',
      },
      resources: {
        cpu: { arch: null, count: { min: 2.5, max: 4 } },
        memory: { min: 16, max: null },
        shm_size: null,
        gpu: { vendor: null, name: null, count: { min: 2, max: 2 }, memory: null, total_memory: null, compute_capability: null },
        disk: { size: { min: 100, max: null } },
      },
    });
    expect(pod.spec.containers[0].resources).toEqual({
      requests: { cpu: '2500m', memory: '16384Mi', 'amd.com/gpu': '2' },
      limits: { cpu: '4', memory: '16384Mi', 'amd.com/gpu': '2' },
    });
    expect(pod.spec.nodeSelector).toEqual({ 'kubernetes.io/hostname': 'gpu-1' });
    expect(pod.spec).not.toHaveProperty('volumes');
    expect(pod.spec.containers[0]).not.toHaveProperty('volumeMounts');
  });

  it('shm_size and network volumes (claims) become the pod’s volumes, each mounted at its path', () => {
    const pod = podManifest({
      name: 'p',
      namespace: 'ml',
      homeId: 'h',
      runName: 'r',
      image: 'img',
      command: ['sh'],
      sshPort: 10022,
      hostname: 'n',
      offer: {
        backend: 'kubernetes',
        region: 'c',
        instanceType: 'n',
        spot: false,
        price: 0,
        availability: 'available',
        instanceName: '',
        fleet: '',
      },
      resources: {
        cpu: { arch: null, count: { min: 1, max: null } },
        memory: { min: 2, max: null },
        shm_size: 0.5,
        gpu: { vendor: null, name: null, count: { min: 0, max: null }, memory: null, total_memory: null, compute_capability: null },
        disk: { size: { min: 1, max: null } },
      },
      claims: [{ claim: 'dstack-h-data', path: '/data' }],
    });
    expect(pod.spec.volumes).toEqual([
      { name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: '512Mi' } },
      { name: 'volume-0', persistentVolumeClaim: { claimName: 'dstack-h-data' } },
    ]);
    expect(pod.spec.containers[0].volumeMounts).toEqual([
      { name: 'dshm', mountPath: '/dev/shm' },
      { name: 'volume-0', mountPath: '/data' },
    ]);
    expect(pod.spec.containers[0].resources).toEqual({ requests: { cpu: '1', memory: '2048Mi' }, limits: { memory: '2048Mi' } });
  });

  it('maps pod states: Evicted is an interruption, OOMKilled says so, a bootstrap that gave up is stopped with its line', () => {
    const base = {
      metadata: { name: 'p', creationTimestamp: new Date() },
      spec: { containers: [{ name: 'run', image: 'i', resources: { limits: { memory: '1Gi' } } }] },
    };
    expect(podInstance({ ...base, status: { phase: 'Failed', reason: 'Evicted', message: 'low on memory' } }, 'c')).toMatchObject({
      state: 'terminated',
      interrupted: true,
      statusMessage: 'low on memory',
    });
    const oom = podInstance(
      {
        ...base,
        status: {
          phase: 'Failed',
          containerStatuses: [
            {
              name: 'run',
              image: 'i',
              imageID: '',
              ready: false,
              restartCount: 0,
              state: { terminated: { exitCode: 137, reason: 'OOMKilled' } },
            },
          ],
        },
      },
      'c',
    );
    expect(oom).toMatchObject({ state: 'failed' });
    expect(oom.statusMessage).toContain('OOMKilled: the container went over its memory limit of 1Gi');
    const gaveUp = podInstance(
      {
        ...base,
        status: {
          phase: 'Failed',
          containerStatuses: [
            {
              name: 'run',
              image: 'i',
              imageID: '',
              ready: false,
              restartCount: 0,
              state: { terminated: { exitCode: 78, message: 'no sshd' } },
            },
          ],
        },
      },
      'c',
    );
    expect(gaveUp).toMatchObject({ state: 'stopped', statusMessage: 'no sshd', id: 'p@c' });
  });
});
