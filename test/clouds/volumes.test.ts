// Network volumes end to end against RunPod's API double (test/clouds/runpod-double.ts): `dstack apply`
// of a `type: volume` file makes a RunPod network volume; a run naming it is deployed into the
// volume's data center with it at the run's path (the double binds the volume's folder into the pod's
// container, as RunPod mounts it), so a file one run writes there is seen by the next run; `dstack
// volume delete` is refused while a run has it and deletes it at the provider after; a run naming
// it on a backend without volumes (this machine) is refused, naming the backend. Everything past the
// API is real: the pod is a container of the test engine running the run's image, reached over SSH.
//
// Lambda's filesystems (test/clouds/lambda-double.ts) are followed as far as the test hosts allow:
// made by `type: volume`, the run planned into the filesystem's region only and launched with it
// (file_system_names), its folder /lambda/nfs/NAME sent to the agent as a mount. The test hosts have
// no Docker engine (their jobs run on the host), where a folder cannot be bound at another path: the
// run fails with volume_error saying so, which is what this part checks of the agent's side.
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dstack, gitRepo, getRun, mustDstack, runName, ssh, type Sandbox } from '../cli/helpers';
import { createTestHosts, devEnvYaml, fleetSandbox } from '../fleets/helpers';
import type { TestHostNetwork } from '../harness/ssh-hosts';
import { waitFor } from '../harness/util';
import { containerInstances, type ContainerInstances } from './container-instances';
import { startLambdaDouble, type LambdaDouble } from './lambda-double';
import { startRunpodDouble, type RunpodDouble } from './runpod-double';

describe('network volumes on RunPod (its API double)', () => {
  let instances: ContainerInstances;
  let runpod: RunpodDouble;
  let sb: Sandbox;
  let repo: string;
  const image = inject('sshdImage');
  const vol = `data-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    instances = await containerInstances();
    runpod = await startRunpodDouble({
      instances,
      gpuTypes: [
        { id: 'NVIDIA GeForce RTX 4090', displayName: 'RTX 4090', memoryInGb: 24, securePrice: 0.69, communityPrice: 0.34, stock: 10 },
      ],
    });
    sb = fleetSandbox('netvol');
    repo = await gitRepo(sb, devEnvYaml('unused'));
    const add = await dstack(sb, ['backend', 'add', 'runpod', '--api-url', runpod.url], { input: `${runpod.apiKey}\n`, timeoutMs: 60_000 });
    expect(add.code, add.stderr).toBe(0);
  });

  afterAll(async () => {
    await sb?.cleanup();
    await runpod?.close();
    await instances?.destroy();
  });

  const write = (file: string, text: string) => writeFileSync(join(repo, file), text);
  const applyRun = (name: string, extra: string) => {
    write(`${name}.dstack.yml`, devEnvYaml(name, extra));
    return dstack(sb, ['apply', '-f', `${name}.dstack.yml`, '-y', '-d'], { cwd: repo, timeoutMs: 300_000 });
  };
  const volumes = async () =>
    JSON.parse((await mustDstack(sb, ['volume', 'list', '--json'])).stdout).volumes as {
      name: string;
      backend: string;
      region: string;
      status: string;
      volumeId: string;
      attachedTo?: string[];
    }[];

  it('`dstack apply` of a `type: volume` file makes the volume at RunPod, in its data center', async () => {
    write('vol.dstack.yml', ['type: volume', `name: ${vol}`, 'backend: runpod', 'region: EU-RO-1', 'size: 10GB', ''].join('\n'));
    const res = await dstack(sb, ['apply', '-f', 'vol.dstack.yml', '-y'], { cwd: repo, timeoutMs: 120_000 });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`^ ?${vol} +runpod \\(EU-RO-1\\) +active`, 'm'));
    const [made] = runpod.networkVolumes();
    expect(made).toMatchObject({ size: 10, dataCenterId: 'EU-RO-1' });
    expect(made.name).toMatch(new RegExp(`^dstack-.*-${vol}$`));
    expect(await volumes()).toMatchObject([{ name: vol, backend: 'runpod', region: 'EU-RO-1', status: 'active', volumeId: made.id }]);
    // The same file again changes nothing.
    expect((await dstack(sb, ['apply', '-f', 'vol.dstack.yml', '-y'], { cwd: repo })).code).toBe(0);
    expect(runpod.networkVolumes()).toHaveLength(1);
  });

  it('a file written to the volume by one run survives it and is seen by the next; delete is refused while attached', async () => {
    const first = runName('vola');
    const res = await applyRun(first, `image: ${image}\nvolumes:\n  - ${vol}:/data`);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const volumeId = runpod.networkVolumes()[0].id;
    // Deployed into the volume's data center, with it at the run's path.
    expect(runpod.deploys.at(-1)).toMatchObject({ networkVolumeId: volumeId, dataCenterId: 'EU-RO-1', volumeMountPath: '/data' });
    const stamp = randomBytes(8).toString('hex');
    const w = await ssh(sb, first, `echo ${stamp} > /data/kept.txt && mkdir -p /data/sub && echo deep > /data/sub/x`);
    expect(w.code, w.stderr).toBe(0);

    const refused = await dstack(sb, ['volume', 'delete', vol, '-y']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`volume ${vol} is attached to run ${first}: stop it first`);
    expect((await volumes())[0].attachedTo).toEqual([first]);
    expect((await mustDstack(sb, ['volume', 'list'])).stdout).toMatch(new RegExp(`${vol} .* ${first}`));

    await mustDstack(sb, ['stop', first, '-y']);
    await waitFor('the first pod to be terminated', () => runpod.pods().every((p) => p.desiredStatus === 'TERMINATED'), {
      timeoutMs: 60_000,
    });

    const second = runName('volb');
    const again = await applyRun(second, `image: ${image}\nvolumes:\n  - name: ${vol}\n    path: /mnt/kept`);
    expect(again.code, again.stderr + again.stdout).toBe(0);
    const r = await ssh(sb, second, 'cat /mnt/kept/kept.txt /mnt/kept/sub/x');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${stamp}\ndeep\n`);
    await mustDstack(sb, ['stop', second, '-y']);
    await waitFor('the second pod to be terminated', () => runpod.pods().every((p) => p.desiredStatus === 'TERMINATED'), {
      timeoutMs: 60_000,
    });
    expect((await volumes())[0].attachedTo ?? []).toEqual([]);
  });

  it('a run naming the volume on this machine (no network volumes) is refused, naming the backend; nothing is made', async () => {
    const name = runName('vloc');
    const pods = runpod.pods().length;
    const res = await applyRun(name, `backends: [local]\nvolumes:\n  - ${vol}:/data`);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`local: has no network volumes (volume ${vol} at runpod (EU-RO-1))`);
    expect(await getRun(sb, name)).toBeUndefined();
    expect(runpod.pods()).toHaveLength(pods);
  });

  it('a run naming a volume that does not exist is refused with the reason', async () => {
    const name = runName('vnone');
    const res = await applyRun(name, 'volumes:\n  - no-such-vol:/data');
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('volumes: volume no-such-vol at /data: no such volume');
  });

  it('`dstack volume delete` deletes it at RunPod once no run has it', async () => {
    await mustDstack(sb, ['volume', 'delete', vol, '-y']);
    expect(runpod.networkVolumes()).toEqual([]);
    expect(await volumes()).toEqual([]);
    const missing = await dstack(sb, ['volume', 'delete', vol, '-y']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`no volume named ${vol}`);
  });
});

describe('network volumes on Lambda (its API double): filesystems', () => {
  let net: TestHostNetwork;
  let lambda: LambdaDouble;
  let sb: Sandbox;
  let repo: string;
  const vol = `fs-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    net = await createTestHosts([{ name: 'lv1' }]);
    lambda = await startLambdaDouble({
      hosts: net.hosts,
      types: [
        {
          name: 'gpu_1x_a10',
          gpu_description: 'A10 (24 GB PCIe)',
          price_cents_per_hour: 75,
          specs: { vcpus: 8, memory_gib: 32, storage_gib: 100, gpus: 1 },
          regions: ['us-west-2', 'us-east-1'],
        },
      ],
    });
    sb = fleetSandbox('netvol-l');
    repo = await gitRepo(sb, devEnvYaml('unused'));
    const add = await dstack(sb, ['backend', 'add', 'lambda', '--api-url', lambda.url, '--ssh-user', 'root'], {
      input: `${lambda.apiKey}\n`,
      timeoutMs: 60_000,
    });
    expect(add.code, add.stderr).toBe(0);
  });

  afterAll(async () => {
    await sb?.cleanup();
    await lambda?.close();
    await net?.destroy();
  });

  it('makes a filesystem, launches the run in its region with it, and hands its folder to the agent', async () => {
    writeFileSync(
      join(repo, 'fs.dstack.yml'),
      ['type: volume', `name: ${vol}`, 'backend: lambda', 'region: us-east-1', 'size: 10GB', ''].join('\n'),
    );
    const made = await dstack(sb, ['apply', '-f', 'fs.dstack.yml', '-y'], { cwd: repo, timeoutMs: 120_000 });
    expect(made.code, made.stderr).toBe(0);
    const [fs] = lambda.fileSystems();
    expect(fs).toMatchObject({ region: 'us-east-1', mount_point: `/lambda/nfs/${fs.name}` });
    expect(fs.name).toMatch(new RegExp(`^dstack-[0-9a-f]{8}-${vol}$`));
    expect(existsSync(fs.mount_point)).toBe(true);

    const name = runName('volfs');
    writeFileSync(join(repo, `${name}.dstack.yml`), devEnvYaml(name, `backends: [lambda]\nretry: false\nvolumes:\n  - ${vol}:/data`));
    await dstack(sb, ['apply', '-f', `${name}.dstack.yml`, '-y', '-d'], { cwd: repo, timeoutMs: 300_000 });
    // Only the filesystem's region (us-west-2, listed first, is left out), with it named.
    expect(lambda.launchedWith).toEqual([[fs.name]]);
    expect(lambda.instances()).toHaveLength(1);
    const r = await waitFor('the run to end', async () => {
      const x = await getRun(sb, name);
      return x && ['failed', 'terminated'].includes(x.status) ? x : undefined;
    });
    expect(r.terminationReason).toBe('volume_error');
    expect(JSON.stringify(r)).toContain(`/lambda/nfs/${fs.name}:/data: instance volumes need a container, and this job runs on the host`);

    await mustDstack(sb, ['volume', 'delete', vol, '-y']);
    expect(lambda.fileSystems()).toEqual([]);
    expect(existsSync(fs.mount_point)).toBe(false);
  });
});
