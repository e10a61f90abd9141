// The Kubernetes backend end to end against the API-server double (test/clusters/kubernetes-double.ts):
// everything past the API is real. Each pod the double's scheduler places is a container of the test
// engine in a network namespace of its own, running the run's image with the daemon's bootstrap; the
// daemon reaches its sshd only through the API's port-forward (a WebSocket to the double, which
// connects to the container), deploys the agent over SSH, and the job runs in host mode inside it;
// OpenSSH is the user's client. Covers: the cluster's offers beside another backend, the pod's
// requests, limits, labels, node and /dev/shm as the double received them, `ssh NAME` through the
// daemon's port-forward, Unschedulable → no-capacity with the scheduler's message, an image the
// cluster cannot pull, an eviction → `interruption` and the retry that follows, an OOM kill, and a pod
// no run owns deleted by the next daemon (kill -9 of the last), which reaches a running run again.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dstack, gitRepo, mustDstack, runName, ssh, waitForRun, type Sandbox } from '../cli/helpers';
import { devEnvYaml, fleetSandbox } from '../fleets/helpers';
import { run, tempDir, waitFor } from '../harness/util';
import { containerInstances, type ContainerInstances } from '../clouds/container-instances';
import { startKubernetesDouble, type KubernetesDouble } from './kubernetes-double';

describe('kubernetes backend, against an API-server double whose pods are real containers', () => {
  let instances: ContainerInstances;
  let k8s: KubernetesDouble;
  let sb: Sandbox;
  let repo: string;
  let dir: { path: string; cleanup: () => void };
  const image = inject('sshdImage');

  beforeAll(async () => {
    instances = await containerInstances();
    dir = tempDir('k8s-double');
    k8s = await startKubernetesDouble({
      instances,
      dir: dir.path,
      nodes: [
        { name: 'cpu-1', cpu: '4', memory: '8Gi' },
        {
          name: 'gpu-1',
          cpu: '8',
          memory: '32Gi',
          gpu: {
            resource: 'nvidia.com/gpu',
            count: 1,
            labels: { 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB', 'nvidia.com/gpu.memory': '81920', 'nvidia.com/gpu.count': '1' },
          },
        },
      ],
    });
    sb = fleetSandbox('k8s', { grace: '2m' });
    appendFileSync(
      join(sb.dstackHome, 'config.yml'),
      `cloud_boot_timeout: 60s\nbackends:\n  - type: kubernetes\n    kubeconfig:\n      filename: ${k8s.kubeconfigFile}\n    contexts: [${k8s.context}]\n    pending_timeout: 5s\n`,
    );
    repo = await gitRepo(sb, devEnvYaml('unused'));
  });

  afterAll(async () => {
    await sb?.cleanup();
    await k8s?.close();
    await instances?.destroy();
    dir?.cleanup();
  });

  const prefix = () => `dstack-${readFileSync(join(sb.dstackHome, 'daemon-id'), 'utf8').trim()}-`;
  const apply = (name: string, body: string) => {
    writeFileSync(
      join(repo, `${name}.dstack.yml`),
      `type: dev-environment\nname: ${name}\nimage: ${image}\nbackends: [kubernetes]\n${body}\n`,
    );
    return dstack(sb, ['apply', '-f', `${name}.dstack.yml`, '-y', '-d'], { cwd: repo, timeoutMs: 300_000 });
  };
  const podOf = (name: string) => k8s.pods().find((p) => p.metadata.name === `${prefix()}${name}-0`);
  const containerGone = async (id: string) => (await run('docker', ['-H', inject('dockerHost'), 'inspect', id])).code !== 0;

  it('`dstack offer --json` lists each node with what is free, beside the local backend', async () => {
    const res = await mustDstack(sb, ['offer', '--json']);
    const offers = JSON.parse(res.stdout).offers as {
      backend: string;
      region: string;
      instanceType: string;
      resources: { cpus: number; memoryGb: number; gpus: { name: string; memoryGb: number; count: number }[] };
    }[];
    expect(new Set(offers.map((o) => o.backend))).toEqual(new Set(['local', 'kubernetes']));
    const gpu = offers.find((o) => o.backend === 'kubernetes' && o.instanceType === 'gpu-1');
    expect(gpu).toMatchObject({
      region: 'test-cluster',
      resources: { cpus: 8, memoryGb: 32, gpus: [{ name: 'A100', memoryGb: 80, count: 1 }] },
    });
    const cpu = offers.find((o) => o.instanceType === 'cpu-1');
    expect(cpu).toMatchObject({ resources: { cpus: 4, memoryGb: 8 } });
    expect(cpu?.resources.gpus ?? []).toEqual([]);
    // What another team's pods request is not free: `dstack backend list` lists each node's free/total now.
    k8s.occupy('cpu-1', { cpu: '3', memory: '2Gi' });
    const list = await mustDstack(sb, ['backend', 'list']);
    expect(list.stdout).toMatch(/^ *kubernetes +test-cluster +ok/m);
    expect(list.stdout).toContain('kubernetes test-cluster: 2 node(s), free/total:');
    expect(list.stdout).toContain('  cpu-1: 1/4 CPU, 6/8GB\n');
    expect(list.stdout).toContain('  gpu-1: 8/8 CPU, 32/32GB, A100:80GB 1/1\n');
  });

  it('apply makes a pod with the run’s requests, limits, labels, node and /dev/shm; `ssh NAME` goes through the port-forward; stop deletes it', async () => {
    const name = runName('kgpu');
    const res = await apply(name, 'resources:\n  cpu: 2..\n  memory: 4GB..\n  disk: 1GB..\n  gpu: A100:1\n  shm_size: 1GB');
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const body = k8s.created.find((b) => b.metadata.name === `${prefix()}${name}-0`);
    expect(body).toBeTruthy();
    const c = body.spec.containers[0];
    expect(c.image).toBe(image);
    expect(c.command.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(c.resources).toEqual({
      requests: { cpu: '2', memory: '4096Mi', 'nvidia.com/gpu': '1' },
      limits: { memory: '4096Mi', 'nvidia.com/gpu': '1' },
    });
    expect(body.metadata.labels).toEqual({
      'app.kubernetes.io/managed-by': 'dstack-ts',
      'dstack-ts/home': prefix().slice('dstack-'.length, -1),
      'dstack-ts/run': name,
    });
    expect(body.spec.nodeSelector).toEqual({ 'kubernetes.io/hostname': 'gpu-1' });
    expect(body.spec.restartPolicy).toBe('Never');
    expect(body.spec.volumes).toEqual([{ name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: '1024Mi' } }]);
    expect(c.volumeMounts).toEqual([{ name: 'dshm', mountPath: '/dev/shm' }]);
    // The daemon reached the pod only through port-forward: the double saw the WebSocket upgrades.
    expect(
      k8s.requests.some((r) => r.startsWith(`UPGRADE /api/v1/namespaces/dstack/pods/${prefix()}${name}-0/portforward?ports=10022`)),
    ).toBe(true);
    const where = await ssh(sb, name, 'cat /workflow/committed.txt; cat /proc/1/cmdline | tr "\\0" " "');
    expect(where.code, where.stderr).toBe(0);
    expect(where.stdout).toContain('committed-content');
    expect(where.stdout).toContain('dstack bootstrap');
    expect((await ssh(sb, name, 'true')).code).toBe(0);
    const containerId = (await instancesOf(name))!;
    await mustDstack(sb, ['stop', name, '-y']);
    expect(podOf(name)).toBeUndefined();
    await waitFor('the pod’s container to be removed', () => containerGone(containerId), { timeoutMs: 30_000 });
  });

  // The container id of a run's pod, by the name the double gave its container.
  const instancesOf = async (name: string) => {
    const r = await run('docker', ['-H', inject('dockerHost'), 'inspect', '-f', '{{.Id}}', `k8s-${prefix()}${name}-0`]);
    return r.code === 0 ? r.stdout.trim() : undefined;
  };

  it('a pod the scheduler cannot place: no-capacity after pending_timeout with the scheduler’s message; the pod is deleted', async () => {
    const name = runName('kunsched');
    // Another team takes the GPU between the plan and the pod: the offer said free, the scheduler says no.
    k8s.onCreate = (body) => {
      if (body.metadata.name === `${prefix()}${name}-0`) k8s.occupy('gpu-1', { 'nvidia.com/gpu': '1' });
    };
    await apply(name, 'resources:\n  cpu: 1..\n  memory: 1GB..\n  disk: 1GB..\n  gpu: A100:1\nretry: false');
    const r = await waitForRun(sb, name, (x) => ['failed', 'terminated'].includes(x.status), 'failed', 120_000);
    k8s.onCreate = undefined;
    expect(r.terminationReason).toBe('failed_to_start_due_to_no_capacity');
    expect(r.statusMessage).toContain(
      "0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 1 node(s) didn't match Pod's node affinity/selector. preemption:",
    );
    expect(k8s.created.some((b) => b.metadata.name === `${prefix()}${name}-0`)).toBe(true);
    expect(podOf(name)).toBeUndefined();
    // While it waited, the run's status said why.
    expect(readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8')).toContain(
      `run ${name}: pending (Unschedulable: 0/2 nodes are available: 1 Insufficient nvidia.com/gpu`,
    );
  });

  it('an image the cluster cannot pull fails the run at ImagePullBackOff, saying so; the pod is deleted', async () => {
    const name = runName('kpull');
    writeFileSync(
      join(repo, `${name}.dstack.yml`),
      `type: dev-environment\nname: ${name}\nimage: registry.invalid/none:1\nbackends: [kubernetes]\nresources:\n  cpu: 1..\n  memory: 1GB..\n  disk: 1GB..\nretry: false\n`,
    );
    await dstack(sb, ['apply', '-f', `${name}.dstack.yml`, '-y', '-d'], { cwd: repo, timeoutMs: 120_000 });
    const r = await waitForRun(sb, name, (x) => ['failed', 'terminated'].includes(x.status), 'failed', 120_000);
    expect(r.statusMessage).toContain('kubernetes: the image registry.invalid/none:1 cannot be pulled by the cluster (ImagePullBackOff:');
    expect(r.terminationReason).toBe('creating_container_error');
    expect(podOf(name)).toBeUndefined();
  });

  it('an eviction ends the run with `interruption`; with retry on interruption a new pod is made', async () => {
    const name = runName('kevict');
    const res = await apply(
      name,
      'resources:\n  cpu: 1..\n  memory: 1GB..\n  disk: 1GB..\nretry:\n  on_events: [interruption]\n  duration: 10m',
    );
    expect(res.code, res.stderr + res.stdout).toBe(0);
    await waitForRun(sb, name, (x) => x.status === 'running', 'running', 120_000);
    const first = podOf(name);
    expect(first?.status.phase).toBe('Running');
    const firstUid = first.metadata.uid;
    await k8s.evict(first.metadata.name);
    // The agent's link drops with the container; the daemon asks the API and sees Evicted.
    await waitFor(
      'a new pod for the retried run',
      () => podOf(name)?.metadata.uid !== firstUid && podOf(name)?.status.phase === 'Running',
      { timeoutMs: 180_000, intervalMs: 1000 },
    );
    // The first attempt ended as an interruption (not an unreachable instance), which the retry covers.
    expect(readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8')).toMatch(/Attempt 1 ended \(interrupted\); retrying/);
    await waitForRun(sb, name, (x) => x.status === 'running', 'running again', 180_000);
    expect((await ssh(sb, name, 'true')).code).toBe(0);
    await mustDstack(sb, ['stop', name, '-y']);
    expect(podOf(name)).toBeUndefined();
  }, 420_000);

  it('a container the OOM killer ended fails its run saying OOMKilled and the memory limit', async () => {
    const name = runName('koom');
    const res = await apply(name, 'resources:\n  cpu: 1..\n  memory: 2GB..\n  disk: 1GB..\nretry: false');
    expect(res.code, res.stderr + res.stdout).toBe(0);
    await waitForRun(sb, name, (x) => x.status === 'running', 'running', 120_000);
    await k8s.oomKill(podOf(name).metadata.name);
    const r = await waitForRun(sb, name, (x) => ['failed', 'terminated'].includes(x.status), 'failed', 120_000);
    expect(r.status).toBe('failed');
    expect(r.statusMessage).toContain('OOMKilled: the container went over its memory limit of 2048Mi');
    expect(r.terminationReason).toBe('container_exited_with_error');
    await waitFor('the pod to be deleted', () => !podOf(name), { timeoutMs: 60_000 });
  });

  it('a `type: volume` on kubernetes is a PersistentVolumeClaim: mounted at the run’s path, what one run writes the next reads', async () => {
    writeFileSync(join(repo, 'kvol.dstack.yml'), 'type: volume\nname: kdata\nbackend: kubernetes\nregion: test-cluster\nsize: 1GB\n');
    const made = await dstack(sb, ['apply', '-f', 'kvol.dstack.yml', '-y'], { cwd: repo, timeoutMs: 120_000 });
    expect(made.code, made.stderr + made.stdout).toBe(0);
    const [claim] = k8s.claims();
    expect(claim.metadata.name).toBe(`${prefix()}kdata`);
    expect(claim.spec).toEqual({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } });
    expect(claim.metadata.labels['dstack-ts/home']).toBe(prefix().slice('dstack-'.length, -1));

    const first = runName('kvola');
    const a = await apply(first, 'resources:\n  cpu: 1..\n  memory: 1GB..\n  disk: 1GB..\nvolumes:\n  - kdata:/data');
    expect(a.code, a.stderr + a.stdout).toBe(0);
    const body = k8s.created.find((b) => b.metadata.name === `${prefix()}${first}-0`);
    expect(body.spec.volumes).toEqual([{ name: 'volume-0', persistentVolumeClaim: { claimName: `${prefix()}kdata` } }]);
    expect(body.spec.containers[0].volumeMounts).toEqual([{ name: 'volume-0', mountPath: '/data' }]);
    const w = await ssh(sb, first, 'echo kept-by-claim > /data/kept.txt');
    expect(w.code, w.stderr).toBe(0);
    await mustDstack(sb, ['stop', first, '-y']);

    const second = runName('kvolb');
    const b = await apply(second, 'resources:\n  cpu: 1..\n  memory: 1GB..\n  disk: 1GB..\nvolumes:\n  - name: kdata\n    path: /mnt/kept');
    expect(b.code, b.stderr + b.stdout).toBe(0);
    const r = await ssh(sb, second, 'cat /mnt/kept/kept.txt');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('kept-by-claim\n');
    await mustDstack(sb, ['stop', second, '-y']);
    await mustDstack(sb, ['volume', 'delete', 'kdata', '-y']);
    expect(k8s.claims()).toEqual([]);
  }, 300_000);

  it('a pod of this home that no run owns (its daemon killed) is deleted by the next daemon; a running run is reached again on its port', async () => {
    // A run that outlives its daemon: the next one opens the same loopback port to its pod again.
    const live = runName('klive');
    const res = await apply(live, 'resources:\n  cpu: 1..\n  memory: 1GB..\n  disk: 1GB..');
    expect(res.code, res.stderr + res.stdout).toBe(0);
    await waitForRun(sb, live, (x) => x.status === 'running', 'running', 120_000);
    const ghost = `${prefix()}ghost-0`;
    const kc = readFileSync(k8s.kubeconfigFile, 'utf8');
    const token = /token: (\S+)/.exec(kc)![1];
    const ca = Buffer.from(/certificate-authority-data: (\S+)/.exec(kc)![1], 'base64');
    const body = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: ghost,
        labels: { 'app.kubernetes.io/managed-by': 'dstack-ts', 'dstack-ts/home': prefix().slice(7, -1), 'dstack-ts/run': 'ghost' },
      },
      spec: { containers: [{ name: 'run', image, command: ['sleep', 'infinity'], resources: { requests: { cpu: '1' } } }] },
    });
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${k8s.url}/api/v1/namespaces/${k8s.namespace}/pods`,
        { method: 'POST', ca, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(status).toBe(201);
    const pid = Number(readFileSync(join(sb.dstackHome, 'daemon.pid'), 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    await mustDstack(sb, ['ps']); // the next daemon
    // The sweep logs once the API answered the delete.
    await waitFor(
      'the orphan pod to be deleted, saying why',
      () => readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8').includes(`kubernetes: terminated instance ${ghost}`),
      { timeoutMs: 150_000, intervalMs: 1000 },
    );
    expect(readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8')).toContain(`${ghost}@test-cluster): no run owns it`);
    expect(k8s.pods().some((p) => p.metadata.name === ghost)).toBe(false);
    expect(podOf(live)?.status.phase).toBe('Running');
    const again = await ssh(sb, live, 'cat /workflow/committed.txt');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('committed-content');
    await mustDstack(sb, ['stop', live, '-y']);
    expect(podOf(live)).toBeUndefined();
  }, 360_000);
});
