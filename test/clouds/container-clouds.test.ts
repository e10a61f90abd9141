// RunPod and Vast.ai end to end against their API doubles (test/clouds/runpod-double.ts,
// vastai-double.ts), with Lambda's double beside them for the merged plan. Everything past the APIs
// is real: each pod or Vast.ai instance is a container of the test engine running the run's own
// image with the daemon's bootstrap as its command, in a network namespace of its own; the daemon
// reaches its sshd at its address, deploys the agent over SSH, and the job runs in host mode inside
// that container; OpenSSH is the user's client. Covers: offers of three providers merged and sorted
// by price, apply → `ssh NAME` (the code at /workflow) → stop → the pod terminated and its
// container gone, a no-capacity answer inside an HTTP 200 moving to the next offer, Vast.ai's 429s
// retried, a spot instance outbid ending its run with `interruption`, an image the bootstrap cannot
// serve failing early and saying why, and the agent ending an idle run with the daemon stopped
// (the container exits: the pod stops billing GPU time).
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { IMAGE_NEEDS } from '@dstack/backends/cloud/container-bootstrap';
import { dstack, gitRepo, mustDstack, runName, ssh, waitForRun, type Sandbox } from '../cli/helpers';
import { createTestHosts, devEnvYaml, fleetSandbox } from '../fleets/helpers';
import type { TestHostNetwork } from '../harness/ssh-hosts';
import { run, waitFor } from '../harness/util';
import { containerInstances, type ContainerInstances } from './container-instances';
import { startLambdaDouble, type LambdaDouble } from './lambda-double';
import { NO_CAPACITY_MESSAGE, startRunpodDouble, type RunpodDouble } from './runpod-double';
import { startVastaiDouble, type VastaiDouble } from './vastai-double';

describe('container clouds (RunPod, Vast.ai), against their API doubles', () => {
  let instances: ContainerInstances;
  let net: TestHostNetwork;
  let runpod: RunpodDouble;
  let vastai: VastaiDouble;
  let lambda: LambdaDouble;
  let sb: Sandbox;
  let repo: string;
  const image = inject('sshdImage');

  beforeAll(async () => {
    instances = await containerInstances();
    net = await createTestHosts([{ name: 'l1' }]);
    runpod = await startRunpodDouble({
      instances,
      gpuTypes: [
        { id: 'NVIDIA GeForce RTX 4090', displayName: 'RTX 4090', memoryInGb: 24, securePrice: 0.69, communityPrice: 0.34, stock: 10 },
        { id: 'NVIDIA A100 80GB PCIe', displayName: 'A100 PCIe', memoryInGb: 80, securePrice: 1.64, communityPrice: 1.19, stock: 10 },
      ],
    });
    vastai = await startVastaiDouble({
      instances,
      rateLimit: { perSecond: 4 },
      offers: [
        {
          id: 101,
          gpu_name: 'RTX 3090',
          num_gpus: 1,
          gpu_ram: 24576,
          cpu_cores_effective: 8,
          cpu_ram: 32768,
          disk_space: 100,
          dph_total: 0.22,
          min_bid: 0.12,
          geolocation: 'Washington, US',
        },
        {
          id: 102,
          gpu_name: 'RTX 3090',
          num_gpus: 1,
          gpu_ram: 24576,
          cpu_cores_effective: 8,
          cpu_ram: 32768,
          disk_space: 100,
          dph_total: 0.25,
          min_bid: 0.13,
          geolocation: 'Oregon, US',
        },
        {
          id: 103,
          gpu_name: 'H100 SXM',
          num_gpus: 1,
          gpu_ram: 81559,
          cpu_cores_effective: 16,
          cpu_ram: 131072,
          disk_space: 200,
          dph_total: 2.1,
          min_bid: 1.4,
          geolocation: 'Quebec, CA',
        },
      ],
    });
    lambda = await startLambdaDouble({
      hosts: net.hosts,
      types: [
        {
          name: 'gpu_1x_a10',
          gpu_description: 'A10 (24 GB PCIe)',
          price_cents_per_hour: 75,
          specs: { vcpus: 8, memory_gib: 32, storage_gib: 100, gpus: 1 },
          regions: ['us-east-1'],
        },
      ],
    });
    sb = fleetSandbox('ccloud');
    appendFileSync(join(sb.dstackHome, 'config.yml'), 'cloud_boot_timeout: 60s\n');
    repo = await gitRepo(sb, devEnvYaml('unused'));
    const add = async (type: string, url: string, key: string, extra: string[] = []) => {
      const res = await dstack(sb, ['backend', 'add', type, '--api-url', url, ...extra], { input: `${key}\n`, timeoutMs: 60_000 });
      expect(res.code, res.stderr).toBe(0);
    };
    await add('runpod', runpod.url, runpod.apiKey);
    await add('vastai', vastai.url, vastai.apiKey);
    await add('lambda', lambda.url, lambda.apiKey, ['--ssh-user', 'root']);
  });

  afterAll(async () => {
    await sb?.cleanup();
    await runpod?.close();
    await vastai?.close();
    await lambda?.close();
    await instances?.destroy();
    await net?.destroy();
  });

  const apply = (name: string, extra: string) => {
    writeFileSync(join(repo, `${name}.dstack.yml`), devEnvYaml(name, extra));
    return dstack(sb, ['apply', '-f', `${name}.dstack.yml`, '-y', '-d'], { cwd: repo, timeoutMs: 300_000 });
  };
  const containerGone = async (id: string | undefined) =>
    !id || (await run('docker', ['-H', inject('dockerHost'), 'inspect', id])).code !== 0;
  const livePods = () => runpod.pods().filter((p) => p.desiredStatus !== 'TERMINATED');

  it('`dstack offer --gpu 24GB.. --json` merges the three providers, cheapest first', async () => {
    const res = await mustDstack(sb, ['offer', '--gpu', '24GB..', '--json']);
    const offers = JSON.parse(res.stdout).offers as {
      backend: string;
      price: number;
      spot: boolean;
      resources: { gpus: { name: string }[] };
    }[];
    expect(new Set(offers.map((o) => o.backend))).toEqual(new Set(['runpod', 'vastai', 'lambda']));
    const prices = offers.map((o) => o.price);
    expect(prices).toEqual([...prices].sort((a, b) => a - b));
    // Vast.ai's interruptible machines at their minimum bid are the cheapest; on demand, the same machine.
    expect(offers[0]).toMatchObject({ backend: 'vastai', price: 0.12, spot: true, resources: { gpus: [{ name: 'RTX3090' }] } });
    expect(offers.find((o) => o.backend === 'vastai' && !o.spot)).toMatchObject({ price: 0.22 });
    const names = new Set(offers.flatMap((o) => o.resources.gpus.map((g) => g.name)));
    expect(names).toEqual(new Set(['RTX3090', 'RTX4090', 'A100', 'H100', 'A10']));
  });

  it('runpod: apply runs the image in a pod, `ssh NAME` lands in it at /workflow, stop terminates the pod and its container', async () => {
    const name = runName('rp');
    const res = await apply(name, `backends: [runpod]\nimage: ${image}`);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const prefix = `dstack-${readFileSync(join(sb.dstackHome, 'daemon-id'), 'utf8').trim()}-`;
    const [pod] = livePods();
    expect(pod.name).toBe(`${prefix}${name}-0`);
    // The deploy asked for the run's image with the bootstrap as its command.
    expect(runpod.deploys.at(-1)).toMatchObject({ imageName: image, gpuTypeId: 'NVIDIA GeForce RTX 4090' });
    const where = await ssh(sb, name, 'cat /workflow/modified.txt; pwd; cat /proc/1/cmdline | tr "\\0" " "');
    expect(where.code, where.stderr).toBe(0);
    expect(where.stdout).toContain('modified-content');
    expect(where.stdout).toContain('dstack bootstrap');
    const ps = await mustDstack(sb, ['ps', '-v']);
    expect(ps.stdout).toMatch(new RegExp(`^ ${name} +runpod`, 'm'));
    await mustDstack(sb, ['stop', name, '-y']);
    expect(runpod.pods().find((p) => p.id === pod.id)?.desiredStatus).toBe('TERMINATED');
    await waitFor('the pod container to be removed', () => containerGone(pod.containerId), { timeoutMs: 30_000 });
    expect(livePods()).toEqual([]);
  });

  it('runpod: a no-capacity answer inside an HTTP 200 moves to the next offer', async () => {
    runpod.fault({ match: /podFindAndDeployOnDemand/, message: NO_CAPACITY_MESSAGE });
    const name = runName('rpcap');
    const res = await apply(name, `backends: [runpod]\nimage: ${image}`);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8')).toContain(`runpod: no capacity: ${NO_CAPACITY_MESSAGE}`);
    // The first offer had none: the run got another one.
    expect(runpod.deploys.length).toBeGreaterThanOrEqual(2);
    const [pod] = livePods();
    expect(pod.name).toMatch(new RegExp(`-${name}-0$`));
    await mustDstack(sb, ['stop', name, '-y']);
    expect(livePods()).toEqual([]);
  });

  it('vastai: a spot instance that is outbid ends its run with `interruption`, and the instance is destroyed', async () => {
    const name = runName('vspot');
    const res = await apply(name, `backends: [vastai]\nimage: ${image}\nspot_policy: spot\nretry: false`);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const mine = vastai.listed().find((i) => i.label.endsWith(`-${name}-0`))!;
    expect(mine).toBeTruthy();
    expect((await ssh(sb, name, 'cat /workflow/committed.txt')).stdout).toContain('committed-content');
    await vastai.outbid(mine.id);
    const r = await waitForRun(sb, name, (x) => x.status === 'failed', 'interrupted', 150_000);
    expect(r.terminationReason).toBe('interrupted_by_no_capacity');
    expect(r.statusMessage ?? JSON.stringify(r)).toMatch(/outbid/);
    await waitFor('the instance to be destroyed', () => !vastai.listed().some((i) => i.id === mine.id), { timeoutMs: 60_000 });
    await waitFor('its container to be removed', () => containerGone(mine.containerId), { timeoutMs: 30_000 });
  });

  it('vastai: an image with neither sshd nor a package manager fails early, saying what an image needs; nothing is left', async () => {
    const name = runName('vbare');
    await apply(name, `backends: [vastai]\nimage: ${inject('busyboxImage')}\nretry: false`);
    const r = await waitForRun(sb, name, (x) => ['failed', 'terminated'].includes(x.status), 'failed', 120_000);
    expect(JSON.stringify(r)).toContain(IMAGE_NEEDS);
    expect(vastai.listed().filter((i) => i.label.endsWith(`-${name}-0`))).toEqual([]);
    // Vast.ai's rate limit was met on the way and waited out, not shown as an error.
    expect(readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8')).not.toMatch(/vastai: provider unavailable/);
  });

  it('kill -9 of the daemon at random points between the deploy and its record: each pod is adopted or terminated, none left', async () => {
    const prefix = `dstack-${readFileSync(join(sb.dstackHome, 'daemon-id'), 'utf8').trim()}-`;
    const killDaemon = () => {
      const pid = Number(readFileSync(join(sb.dstackHome, 'daemon.pid'), 'utf8').trim());
      process.kill(pid, 'SIGKILL');
    };
    const names: string[] = [];
    // Ten points here, ten more on Lambda (lambda.test.ts): the twenty.
    for (let i = 0; i < 10; i++) {
      const name = runName(`rpkill${i}`);
      names.push(name);
      // The first dies before the deploy is even answered; the others at a random moment of the wait for SSH, the agent and the record.
      const delay = i === 0 ? -1 : Math.floor(Math.random() * 4000);
      runpod.onDeploy = () => {
        if (delay < 0) killDaemon();
        else setTimeout(killDaemon, delay);
      };
      await apply(name, `backends: [runpod]\nimage: ${image}`); // the CLI loses its daemon: its exit code says nothing here
      runpod.onDeploy = undefined;
      await mustDstack(sb, ['ps']); // the next daemon
      const r = await waitForRun(sb, name, (x) => ['running', 'failed', 'terminated'].includes(x.status), 'settled', 120_000);
      if (r.status === 'running') await mustDstack(sb, ['stop', name, '-y']);
      await waitFor(`${name}'s pod to be gone`, () => !livePods().some((p) => p.name === `${prefix}${name}-0`), {
        timeoutMs: 90_000,
        intervalMs: 1000,
      });
    }
    // One pod per run at most (adopted, never a second deploy), none left billing, no container left.
    for (const name of names) expect(runpod.pods().filter((p) => p.name === `${prefix}${name}-0`).length).toBeLessThanOrEqual(1);
    expect(livePods()).toEqual([]);
    for (const p of runpod.pods()) expect(await containerGone(p.containerId)).toBe(true);
    expect(readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8')).toContain(`runpod: adopting instance ${prefix}${names[0]}-0`);
  }, 600_000);

  it('with the daemon stopped, the agent ends an idle run at inactivity_duration and its container exits; the next daemon terminates the pod', async () => {
    const name = runName('rpidle');
    const res = await apply(name, `backends: [runpod]\nimage: ${image}\ninactivity_duration: 2m`);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const pod = livePods().find((p) => p.name.endsWith(`-${name}-0`))!;
    await mustDstack(sb, ['daemon', 'stop']);
    const stoppedMs = Date.now();
    // The bound: ended within 2 min 30 s of the laptop going away; the pod then shows EXITED.
    await waitFor('the pod to exit', () => runpod.pods().find((p) => p.id === pod.id)?.desiredStatus === 'EXITED', {
      timeoutMs: 150_000,
      intervalMs: 2000,
    });
    expect(Date.now() - stoppedMs).toBeGreaterThanOrEqual(120_000);
    const r = await waitForRun(sb, name, (x) => x.status === 'terminated', 'ended', 90_000);
    expect(r.terminationReason).toBe('inactivity_duration_exceeded');
    await waitFor('the pod to be terminated', () => runpod.pods().find((p) => p.id === pod.id)?.desiredStatus === 'TERMINATED', {
      timeoutMs: 90_000,
    });
    expect(livePods()).toEqual([]);
  }, 420_000);
});
