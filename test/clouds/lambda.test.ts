// Lambda end to end against its API double (test/clouds/lambda-double.ts), everything past the API
// real: the instances are SSH test hosts (network namespaces with their own sshd), reached with the
// daemon's key that the backend registered through the API, the agent deployed over SSH, the run in
// host mode, OpenSSH as the user's client. Covers: `dstack backend add|list|remove`, offers merged
// with the other backends and sorted by price, apply → `ssh NAME` → stop → terminated, a
// no-capacity answer moving to the next offer, an instance whose SSH never answers (terminated,
// nothing left), polls failing with 5xx, an orphan carrying the daemon's prefix terminated by the
// sweep, and a bad key leaving the other backends' offers in the plan.
import { appendFileSync, createReadStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobState } from '@dstack/core/gen/agent';
import { dstack, getRun, gitRepo, mustDstack, ROOT, runName, ssh, waitForRun, type Sandbox } from '../cli/helpers';
import { AGENT_DIR, createTestHosts, devEnvYaml, fleetSandbox } from '../fleets/helpers';
import type { TestHostNetwork } from '../harness/ssh-hosts';
import { waitFor } from '../harness/util';
import { startLambdaDouble, type LambdaDouble } from './lambda-double';

const SPECS = { vcpus: 8, memory_gib: 32, storage_gib: 100, gpus: 1 };

describe('lambda backend, against the API double', () => {
  let net: TestHostNetwork;
  let double: LambdaDouble;
  let sb: Sandbox;
  let repo: string;

  beforeAll(async () => {
    net = await createTestHosts([{ name: 'l1' }, { name: 'l2' }, { name: 'l3' }]);
    double = await startLambdaDouble({
      hosts: net.hosts,
      types: [
        { name: 'gpu_1x_a10', gpu_description: 'A10 (24 GB PCIe)', price_cents_per_hour: 75, specs: SPECS, regions: ['us-east-1'] },
        { name: 'gpu_1x_a100', gpu_description: 'A100 (40 GB SXM4)', price_cents_per_hour: 129, specs: SPECS, regions: ['us-west-2'] },
        { name: 'gpu_1x_h100_pcie', gpu_description: 'H100 (80 GB PCIe)', price_cents_per_hour: 249, specs: SPECS, regions: ['us-east-1'] },
      ],
    });
    sb = fleetSandbox('lambda');
    // Short deadlines for the faults below; the sweep runs this often too.
    appendFileSync(join(sb.dstackHome, 'config.yml'), 'cloud_boot_timeout: 20s\n');
    repo = await gitRepo(sb, devEnvYaml('unused'));
  });

  afterAll(async () => {
    await sb?.cleanup();
    await double?.close();
    await net?.destroy();
  });

  const active = () => double.instances().filter((i) => i.status !== 'terminated');
  const apply = (name: string, extra = 'backends: [lambda]') => {
    writeFileSync(join(repo, `${name}.dstack.yml`), devEnvYaml(name, extra));
    return dstack(sb, ['apply', '-f', `${name}.dstack.yml`, '-y', '-d'], { cwd: repo, timeoutMs: 300_000 });
  };

  it('`dstack backend add lambda` refuses a bad key and saves nothing; a good one is checked, saved sealed, and listed', async () => {
    const add = (key: string) =>
      dstack(sb, ['backend', 'add', 'lambda', '--api-url', double.url, '--ssh-user', 'root'], { input: `${key}\n`, timeoutMs: 60_000 });
    const bad = await add('secret_wrong');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /lambda: credentials refused: API key was invalid, expired, or deleted\..*\(global\/invalid-api-key\); nothing was saved/,
    );
    expect(readFileSync(join(sb.dstackHome, 'config.yml'), 'utf8')).not.toContain('lambda');

    const good = await add(double.apiKey);
    expect(good.code, good.stderr).toBe(0);
    const config = readFileSync(join(sb.dstackHome, 'config.yml'), 'utf8');
    expect(config).toContain('cloud_boot_timeout: 20s'); // the rest of the file kept
    expect(config).toMatch(/api_key: sealed:[A-Za-z0-9+/=]+/);
    expect(config).not.toContain(double.apiKey);
    expect(statSync(join(sb.dstackHome, 'config.yml')).mode & 0o777).toBe(0o600);
    const list = JSON.parse((await mustDstack(sb, ['backend', 'list', '--json'])).stdout);
    expect(list.backends).toEqual([expect.objectContaining({ type: 'lambda', status: 'ok', apiUrl: double.url })]);
    expect(list.backends[0].keyInClear).toBeFalsy();
  });

  it('`dstack offer --gpu 24GB.. --json` merges lambda with the other backends, cheapest first', async () => {
    const res = await mustDstack(sb, ['offer', '--gpu', '24GB..', '--json']);
    const offers = JSON.parse(res.stdout).offers as { backend: string; instanceType: string; price: number; region: string }[];
    expect(offers.map((o) => [o.backend, o.instanceType, o.region, o.price])).toEqual([
      ['lambda', 'gpu_1x_a10', 'us-east-1', 0.75],
      ['lambda', 'gpu_1x_a100', 'us-west-2', 1.29],
      ['lambda', 'gpu_1x_h100_pcie', 'us-east-1', 2.49],
    ]);
    const gpus = JSON.parse((await mustDstack(sb, ['offer', '--gpu', 'H100', '--json'])).stdout).offers;
    expect(gpus[0].resources.gpus).toEqual([{ vendor: 'nvidia', name: 'H100', memoryGb: 80, count: 1 }]);
    const grouped = JSON.parse((await mustDstack(sb, ['offer', '--gpu', '24GB..', '--group-by', 'gpu,backend,region', '--json'])).stdout);
    expect(grouped.gpus.map((g: { name: string; backends: string[]; region: string }) => [g.name, g.backends, g.region])).toEqual([
      ['A10', ['lambda'], 'us-east-1'],
      ['A100', ['lambda'], 'us-west-2'],
      ['H100', ['lambda'], 'us-east-1'],
    ]);
  });

  it('apply creates an instance named with the daemon prefix, `ssh NAME` lands on it, stop terminates it', async () => {
    const name = runName('lam');
    const res = await apply(name);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(res.stdout).toMatch(/^ 1 {2}lambda +us-east-1 +8xCPU, 32GB, A10:24GB, 100.0GB \(disk\) +no +\$0.75$/m);
    const prefix = `dstack-${readFileSync(join(sb.dstackHome, 'daemon-id'), 'utf8').trim()}-`;
    const [inst] = active();
    expect(inst.name).toBe(`${prefix}${name}-0`);
    const where = await ssh(sb, name, 'ip -o -4 addr show');
    expect(where.stdout).toContain(`${net.host(inst.host!).address}/24`);
    const r = await getRun(sb, name);
    expect(r).toMatchObject({ backend: 'lambda', region: 'us-east-1', price: 0.75 });
    const ps = await mustDstack(sb, ['ps', '-v']);
    expect(ps.stdout).toMatch(new RegExp(`^ ${name} +lambda \\(us-east-1\\) +gpu_1x_a10 +8xCPU, .* +no +\\$0\\.75 +running`, 'm'));
    await mustDstack(sb, ['stop', name, '-y']);
    expect(double.instances().find((i) => i.id === inst.id)?.status).toBe('terminated');
    expect(active()).toEqual([]);
  });

  it('idle_duration keeps the instance after its run for the next run that fits, then the sweep terminates it', async () => {
    const a = runName('keep');
    expect((await apply(a, 'backends: [lambda]\nidle_duration: 1m')).code).toBe(0);
    const inst = active().find((i) => i.name.endsWith(`-${a}-0`))!;
    await mustDstack(sb, ['stop', a, '-y']);
    expect(double.instances().find((i) => i.id === inst.id)?.status).toBe('active');
    expect(readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8')).toContain(`Instance ${inst.name} kept idle for 60s (idle_duration)`);
    const list = JSON.parse((await mustDstack(sb, ['backend', 'list', '--json', '--no-check'])).stdout);
    expect(list.backends[0]).toMatchObject({ instances: 1, pricePerHour: 0.75 });

    const launched = double.instances().length;
    const b = runName('reuse');
    const res = await apply(b, 'backends: [lambda]\nidle_duration: 5s');
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(double.instances()).toHaveLength(launched); // nothing new launched
    expect((await ssh(sb, b, 'ip -o -4 addr show')).stdout).toContain(`${net.host(inst.host!).address}/24`);
    expect(readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8')).toContain(
      `lambda: reusing idle instance ${inst.name} (${inst.id}) for ${b}-0`,
    );
    await mustDstack(sb, ['stop', b, '-y']);
    await waitFor('the sweep to end the idle instance', () => double.instances().find((i) => i.id === inst.id)?.status === 'terminated', {
      timeoutMs: 90_000,
      intervalMs: 1000,
    });
    // The daemon logs the termination once the provider has answered, a moment after the double saw it.
    await waitFor(
      'the sweep to log why it ended the instance',
      () =>
        readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8').includes(
          `lambda: terminated instance ${inst.name} (${inst.id}): its idle_duration is over`,
        ),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  });

  it('agent_url: the instance downloads the agent itself (sha256-checked); one that serves another file is refused and the agent uploaded', async () => {
    const served: string[] = [];
    const server = createServer((req, res) => {
      served.push(req.url ?? '');
      if (req.url === '/dstack-agent-linux-x64') createReadStream(join(ROOT, 'dist/agent/dstack-agent-linux-x64')).pipe(res);
      else res.end('#!/bin/sh\necho not the agent\n');
    });
    await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
    // The first free host of the double takes the next launch: l1, which reaches this machine on its link.
    const base = `http://${net.host('l1').address.replace(/\.2$/, '.1')}:${(server.address() as AddressInfo).port}`;
    const add = (agentUrl?: string) =>
      mustDstack(
        sb,
        ['backend', 'add', 'lambda', '--api-url', double.url, '--ssh-user', 'root', ...(agentUrl ? ['--agent-url', agentUrl] : [])],
        {
          input: `${double.apiKey}\n`,
        },
      );
    try {
      await add(`${base}/dstack-agent-linux-{arch}`);
      const name = runName('url');
      const res = await apply(name);
      expect(res.code, res.stderr + res.stdout).toBe(0);
      expect((await ssh(sb, name, 'true')).code).toBe(0);
      expect(served).toEqual(['/dstack-agent-linux-x64']);
      expect(readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8')).toContain('downloaded from agent_url, sha256 checked');
      await mustDstack(sb, ['stop', name, '-y']);

      await add(`${base}/not-the-agent-{arch}`);
      const other = runName('url');
      const res2 = await apply(other);
      expect(res2.code, res2.stderr + res2.stdout).toBe(0);
      expect(served).toEqual(['/dstack-agent-linux-x64', '/not-the-agent-x64']);
      expect(readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8')).toMatch(
        /agent_url served sha256 [0-9a-f]{64}, expected [0-9a-f]{64} \(this daemon's agent\); uploading it instead/,
      );
      await mustDstack(sb, ['stop', other, '-y']);
    } finally {
      await add();
      server.close();
    }
  });

  it('a no-capacity answer moves to the next offer; polls that fail with 5xx are retried', async () => {
    double.fault({
      method: 'POST',
      path: /launch$/,
      status: 400,
      code: 'instance-operations/launch/insufficient-capacity',
      message: 'Not enough capacity to fulfill launch request.',
    });
    double.fault({
      method: 'GET',
      path: /^\/instances\//,
      status: 503,
      code: 'global/unavailable',
      message: 'Service unavailable',
      times: 2,
    });
    const name = runName('cap');
    const res = await apply(name);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const [inst] = active();
    expect(double.instances().find((i) => i.id === inst.id)).toBeTruthy();
    const r = await getRun(sb, name);
    expect(r).toMatchObject({ backend: 'lambda', region: 'us-west-2', price: 1.29 });
    const log = readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8');
    expect(log).toContain('lambda: no capacity: Not enough capacity to fulfill launch request.');
    await mustDstack(sb, ['stop', name, '-y']);
    expect(active()).toEqual([]);
  });

  it('an instance whose SSH never answers is terminated after cloud_boot_timeout, and the run fails saying so', async () => {
    double.deadNext();
    const name = runName('dead');
    const res = await apply(name, 'backends: [lambda]\nretry: false');
    const r = await waitForRun(sb, name, (x) => ['failed', 'terminated'].includes(x.status), 'the run to fail', 120_000);
    expect(res.code === 0 || res.code === 1).toBe(true);
    expect(JSON.stringify(r)).toMatch(/did not answer SSH within 20s.*terminated/);
    expect(active()).toEqual([]);
  });

  it('an instance with the daemon prefix that no run owns is terminated by the sweep', async () => {
    const prefix = `dstack-${readFileSync(join(sb.dstackHome, 'daemon-id'), 'utf8').trim()}-`;
    const mine = double.launchDirect(`${prefix}ghost-0`);
    const other = double.launchDirect('someone-elses-box');
    await waitFor('the sweep to terminate the orphan', async () => double.instances().find((i) => i.id === mine)?.status === 'terminated', {
      timeoutMs: 120_000,
      intervalMs: 1000,
    });
    expect(double.instances().find((i) => i.id === other)?.status).not.toBe('terminated');
    expect(readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8')).toContain(
      `lambda: terminated instance ${prefix}ghost-0 (${mine}): no run owns it`,
    );
    // And the next command says so, once.
    const ps = await mustDstack(sb, ['ps']);
    expect(ps.stderr).toContain(`Note: lambda: terminated instance ${prefix}ghost-0 (${mine}): no run owns it`);
    expect((await mustDstack(sb, ['ps'])).stderr).not.toContain('Note:');
  });

  it('kill -9 of the daemon at random points between the launch and its record: each instance is adopted or terminated, none left', async () => {
    const prefix = `dstack-${readFileSync(join(sb.dstackHome, 'daemon-id'), 'utf8').trim()}-`;
    const killDaemon = () => {
      const pid = Number(readFileSync(join(sb.dstackHome, 'daemon.pid'), 'utf8').trim());
      process.kill(pid, 'SIGKILL');
    };
    const names: string[] = [];
    // Ten points here, ten more on RunPod (container-clouds.test.ts): the issue's twenty.
    for (let i = 0; i < 10; i++) {
      const name = runName(`kill${i}`);
      names.push(name);
      // The first dies before the launch is even answered; the others at a random moment of the wait for SSH and the record.
      const delay = i === 0 ? -1 : Math.floor(Math.random() * 2500);
      double.onLaunch = () => {
        if (delay < 0) killDaemon();
        else setTimeout(killDaemon, delay);
      };
      await apply(name); // the CLI loses its daemon: its exit code says nothing here
      double.onLaunch = undefined;
      await mustDstack(sb, ['ps']); // the next daemon
      const r = await waitForRun(sb, name, (x) => ['running', 'failed', 'terminated'].includes(x.status), 'the run to settle', 120_000);
      if (r.status === 'running') await mustDstack(sb, ['stop', name, '-y']);
      await waitFor(`${name}'s instance to be gone`, () => !active().some((x) => x.name === `${prefix}${name}-0`), {
        timeoutMs: 90_000,
        intervalMs: 1000,
      });
    }
    // One instance per run at most (adopted, never a second launch), and none left billing.
    for (const name of names) expect(double.instances().filter((x) => x.name === `${prefix}${name}-0`).length).toBeLessThanOrEqual(1);
    expect(active().filter((x) => x.name.startsWith(prefix))).toEqual([]);
    // The first one at least was made before any record: its run's next daemon found it by name.
    expect(readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8')).toContain(`lambda: adopting instance ${prefix}${names[0]}-0`);
  }, 600_000);

  it('with the daemon stopped, the agent ends an idle run on its own at inactivity_duration; the next daemon terminates the instance', async () => {
    const name = runName('idle');
    const res = await apply(name, 'backends: [lambda]\ninactivity_duration: 2m');
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const inst = active().find((i) => i.name.endsWith(`-${name}-0`))!;
    const host = net.host(inst.host!);
    await mustDstack(sb, ['daemon', 'stop']);
    const stoppedMs = Date.now();
    const jobs = async () => {
      const out = await host.exec(`${AGENT_DIR}/bin/dstack-agent call --data-dir ${AGENT_DIR} ListJobs`);
      if (out.code !== 0) throw new Error(`ListJobs on ${host.name}: ${out.stderr || out.stdout}`);
      return (JSON.parse(out.stdout).jobs ?? []) as {
        status: { state: number; reason: string; message: string; finishedMs: number | string };
      }[];
    };
    // The issue's bound: ended within 2 min 30 s of the laptop going away.
    const [job] = await waitFor(
      'the agent to end the idle job',
      async () => {
        const j = await jobs();
        return j[0]?.status.state === JobState.JOB_STATE_TERMINATED ? j : undefined;
      },
      { timeoutMs: 150_000, intervalMs: 2000 },
    );
    expect(job.status.reason).toBe('inactivity_duration_exceeded');
    expect(job.status.message).toMatch(/inactive for 1[2-9]\ds \(inactivity_duration 120s\) with no daemon connected/);
    // Never before the limit, counted from the daemon's going.
    expect(Number(job.status.finishedMs) - stoppedMs).toBeGreaterThanOrEqual(120_000);
    // Lambda bills until terminated, which only an API call does: the next daemon makes it.
    expect(double.instances().find((i) => i.id === inst.id)?.status).toBe('active');
    const r = await waitForRun(sb, name, (x) => x.status === 'terminated', 'the run to end', 60_000);
    expect(r.terminationReason).toBe('inactivity_duration_exceeded');
    await waitFor('the instance to be terminated', () => double.instances().find((i) => i.id === inst.id)?.status === 'terminated', {
      timeoutMs: 60_000,
    });
  });

  it('a bad key on lambda leaves the other backends in the plan and says why', async () => {
    const file = join(sb.dstackHome, 'config.yml');
    const before = readFileSync(file, 'utf8');
    writeFileSync(file, before.replace(/api_key: sealed:\S+/, 'api_key: secret_revoked'), { mode: 0o600 });
    await mustDstack(sb, ['daemon', 'stop']);
    const res = await mustDstack(sb, ['offer']);
    expect(res.stdout).toMatch(/local/);
    expect(res.stdout).toMatch(/^Left out: lambda: credentials refused: API key was invalid/m);
    const list = await dstack(sb, ['backend', 'list']);
    expect(list.code).toBe(1);
    expect(list.stdout).toMatch(/lambda +all +error: lambda: credentials refused/);
    await mustDstack(sb, ['backend', 'remove', 'lambda']);
    expect(readFileSync(file, 'utf8')).not.toContain('lambda');
  });
});
