// The container a job asks for, as the Engine API create body (the e2e suites run it for real; GPUs
// and shm sizes cannot be seen on a test engine without GPUs, so their translation is checked here).
import { describe, expect, it } from 'vitest';
import type { JobSpec } from '@dstack/core/gen/agent';
import { containerConfig } from './docker';

const spec = (p: Partial<JobSpec>): JobSpec => ({
  jobId: 'j1',
  runName: 'run',
  repoId: 'repo',
  runtime: 'docker',
  image: 'img:1',
  registryAuth: undefined,
  privileged: false,
  env: {},
  init: [],
  workingDir: '',
  user: '',
  shell: '',
  gpus: undefined,
  shmSizeGb: 0,
  authorizedKeys: [],
  ide: undefined,
  expectCode: false,
  labels: {},
  sshPort: 0,
  mounts: [],
  secretEnv: {},
  docker: false,
  files: [],
  repos: [],
  ...p,
});
const job = (p: Partial<JobSpec>) => ({
  id: 'j1',
  spec: spec(p),
  env: { A: '1', DSTACK_RUN_NAME: 'run' },
  codeDir: '/data/jobs/j1/workflow',
  workingDir: '/workflow',
});

describe('container config', () => {
  it('uses the host network, /workflow from the code dir, the keep-alive, and labels of the run and agent', () => {
    const c = containerConfig(job({ labels: { team: 'ml' } }), 'inst-1');
    expect(c.HostConfig.NetworkMode).toBe('host');
    expect(c.HostConfig.Binds).toEqual(['/data/jobs/j1/workflow:/workflow']);
    expect(c.HostConfig.Mounts).toEqual([]);
    expect(c.WorkingDir).toBe('/workflow');
    expect(c.Entrypoint.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(c.Env).toEqual(['A=1', 'DSTACK_RUN_NAME=run']);
    expect(c.Labels).toEqual({
      team: 'ml',
      'ai.dstack.agent.instance-id': 'inst-1',
      'ai.dstack.job-id': 'j1',
      'ai.dstack.run-name': 'run',
      'ai.dstack.repo-id': 'repo',
    });
    expect(c.HostConfig.DeviceRequests).toEqual([]);
    expect(c.HostConfig.ShmSize).toBeUndefined();
  });

  it('binds the instance volumes the agent made, by path as it is (a `:` in it too), read-only where asked', () => {
    const made = [
      { source: '/mnt/cache', target: '/root/.cache', readOnly: false, dev: 1, ino: 2 },
      { source: '/srv/a:b', target: '/data', readOnly: true, dev: 1, ino: 3 },
    ];
    const c = containerConfig(job({ mounts: made.map((m) => ({ ...m, optional: false })) }), 'i', made);
    expect(c.HostConfig.Mounts).toEqual([
      { Type: 'bind', Source: '/mnt/cache', Target: '/root/.cache', ReadOnly: false },
      { Type: 'bind', Source: '/srv/a:b', Target: '/data', ReadOnly: true },
    ]);
    // Only what the agent made: a spec's mount it left out (optional) is not bound.
    expect(
      containerConfig(job({ mounts: [{ source: '/x', target: '/x', readOnly: false, optional: true }] }), 'i').HostConfig.Mounts,
    ).toEqual([]);
  });

  it('leaves the secret env out of the container config (docker inspect shows it)', () => {
    const c = containerConfig({ ...job({ secretEnv: { TOKEN: '***' } }), env: { A: '1', TOKEN: 's3cret' } }, 'i');
    expect(c.Env).toEqual(['A=1']);
  });

  it('asks for GPUs by count or all, privileged and /dev/shm size', () => {
    const two = containerConfig(job({ gpus: { count: 2, all: false, vendor: '', indices: [] }, privileged: true, shmSizeGb: 1.5 }), 'i');
    expect(two.HostConfig.DeviceRequests).toEqual([{ Driver: 'nvidia', Count: 2, Capabilities: [['gpu']] }]);
    expect(two.HostConfig.Privileged).toBe(true);
    expect(two.HostConfig.ShmSize).toBe(1610612736);
    const all = containerConfig(job({ gpus: { count: 0, all: true, vendor: 'nvidia', indices: [] } }), 'i');
    expect(all.HostConfig.DeviceRequests).toEqual([{ Driver: 'nvidia', Count: -1, Capabilities: [['gpu']] }]);
    const amd = containerConfig(job({ gpus: { count: 1, all: false, vendor: 'amd', indices: [] } }), 'i');
    expect(amd.HostConfig.DeviceRequests).toEqual([]);
    expect(amd.HostConfig.Devices.map((d) => d.PathOnHost)).toEqual(['/dev/kfd', '/dev/dri']);
    // A fleet host's blocks: exactly those GPUs, by index.
    const block = containerConfig(job({ gpus: { count: 1, all: false, vendor: 'nvidia', indices: [1] } }), 'i');
    expect(block.HostConfig.DeviceRequests).toEqual([{ Driver: 'nvidia', DeviceIDs: ['1'], Capabilities: [['gpu']] }]);
  });
});
