// Fleet faults with real hosts: a host that cannot be reached at apply (its link down), a host whose
// link is cut while a run is on it (with and without a retry policy), and a host whose key changed.
// The daemon's grace period for a silent agent is 10 s here (config.yml instance_unreachable_after).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fleet } from '@dstack/core/gen/daemon';
import { dstack, getRun, gitRepo, hasHostBlock, listRuns, runName, ssh, type Sandbox } from '../cli/helpers';
import type { TestHost, TestHostNetwork } from '../harness/ssh-hosts';
import { mustRun, waitFor } from '../harness/util';
import { agentJobs, createTestHosts, devEnvYaml, fleetSandbox, fleetYaml, listFleets, processesIn } from './helpers';

describe('fleet faults', () => {
  let net: TestHostNetwork;
  let sb: Sandbox;
  let repo: string;
  let h1: TestHost;
  let h2: TestHost;
  let dead: TestHost;
  const fleet = runName('faulty');
  const fleetFile = () => join(sb.dir, 'fleet.dstack.yml');
  const SECRET = `s3cret-${Math.random().toString(36).slice(2)}`;

  beforeAll(async () => {
    net = await createTestHosts([{ name: 'h1' }, { name: 'h2' }, { name: 'dead' }]);
    [h1, h2, dead] = ['h1', 'h2', 'dead'].map((n) => net.host(n));
    sb = fleetSandbox('faults', { grace: '10s' });
    // The fleet's env reaches the agents; a value given from the shell is a secret: never stored.
    writeFileSync(fleetFile(), `${fleetYaml(net, fleet, [h1, h2, dead])}env:\n  - FLEET_VAR=hello\n  - FLEET_SECRET\n`);
    repo = await gitRepo(sb, devEnvYaml('unused'));
    await dead.linkDown();
  });

  afterAll(async () => {
    await h1?.linkUp().catch(() => undefined);
    await sb?.cleanup();
    await net?.destroy();
  });

  const hostNow = async (num: number) => {
    const f = (await listFleets(sb)).find((x: Fleet) => x.name === fleet);
    // (JSON leaves out zero values: instance 0 has no instanceNum there.)
    return f?.instances.find((i) => i.name === `${fleet}-${num}`);
  };

  const startRun = async (name: string, extra = '') => {
    writeFileSync(join(repo, `${name}.dstack.yml`), devEnvYaml(name, `fleets: [${fleet}]\n${extra}`));
    const res = await dstack(sb, ['apply', '-f', `${name}.dstack.yml`, '-y', '-d'], { cwd: repo, timeoutMs: 300_000 });
    expect(res.code, res.stderr + res.stdout).toBe(0);
  };

  const addressOf = async (name: string) => (await ssh(sb, name, 'ip -o -4 addr show')).stdout;

  it('an unreachable host at apply is reported by host, and the other hosts join the fleet', async () => {
    const res = await dstack(sb, ['apply', '-f', fleetFile(), '-y'], { timeoutMs: 300_000, env: { FLEET_SECRET: SECRET } });
    expect(res.code).toBe(1);
    const deadLabel = `root@${dead.address}:22`;
    expect(res.stdout).toMatch(
      new RegExp(
        `^ ${deadLabel} +failed: ssh ${deadLabel}: (host ${deadLabel} unreachable: \\w+|no SSH connection to ${deadLabel} within \\d+ ms)`,
        'm',
      ),
    );
    for (const h of [h1, h2]) expect(res.stdout).toMatch(new RegExp(`^ root@${h.address}:22 +\\d+xCPU.*; agent uploaded`, 'm'));
    expect(res.stderr).toMatch(new RegExp(`^error: 1 of 3 host changes failed: ${deadLabel}; apply the fleet again to retry them`, 'm'));
    const f = (await listFleets(sb)).find((x) => x.name === fleet)!;
    expect(f.status).toBe('active');
    expect(f.instances.map((i) => i.status)).toEqual(['idle', 'idle', 'failed']);
    expect(f.instances[2].statusMessage).toMatch(/unreachable|no SSH connection/);
    expect(await processesIn(h1, `FLEET_SECRET=${SECRET}`)).toHaveLength(1);
    expect(await processesIn(h1, 'FLEET_VAR=hello')).toHaveLength(1);
    for (const file of ['state.db', 'state.db-wal', 'daemon.log']) {
      const path = join(sb.dstackHome, file);
      if (existsSync(path)) expect(readFileSync(path).includes(SECRET), file).toBe(false);
    }
  });

  it('a run whose host goes away fails with instance_unreachable after the grace period; nothing is left, and the host comes back', async () => {
    const name = runName('cut');
    await startRun(name);
    expect(await addressOf(name)).toContain(`${h1.address}/24`);
    const [job] = await agentJobs(h1);
    expect(job).toBeTruthy();

    await h1.linkDown();
    const failed = await waitFor(
      'the run to fail',
      async () => {
        const r = await getRun(sb, name);
        return r && ['failed', 'terminated', 'done'].includes(r.status) ? r : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
    expect(failed).toMatchObject({ status: 'failed', terminationReason: 'instance_unreachable' });
    expect(failed.statusMessage).toMatch(/has not answered for 10s/);
    expect(hasHostBlock(sb, name)).toBe(false);
    expect((await hostNow(0))?.status).toBe('unreachable');

    await h1.linkUp();
    await waitFor('the daemon to find the agent on h1 again', async () => (await hostNow(0))?.status === 'idle', {
      timeoutMs: 120_000,
      intervalMs: 1000,
    });
    // The job the run left behind is removed once the agent answers; the run stays failed.
    await waitFor('the leftover job to be removed', async () => (await agentJobs(h1)).length === 0, {
      timeoutMs: 60_000,
      intervalMs: 1000,
    });
    expect(await processesIn(h1, `DSTACK_JOB_ID=${job}`)).toEqual([]);
    expect((await getRun(sb, name))?.status).toBe('failed');
    expect(readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8')).toContain(`orphaned job ${job}`);
  });

  it('with retry on interruption, a run whose host goes away is resubmitted to another host', async () => {
    const name = runName('retry');
    await startRun(name, 'retry:\n  on_events: [interruption]\n  duration: 10m\n');
    expect(await addressOf(name)).toContain(`${h1.address}/24`);
    await h1.linkDown();
    try {
      await waitFor(
        'the run to come up again on h2',
        async () => {
          const r = (await listRuns(sb)).find((x) => x.name === name);
          if (r && ['failed', 'terminated'].includes(r.status)) throw new Error(`run ended: ${r.terminationReason}: ${r.statusMessage}`);
          return r?.status === 'running' && r.sshAlias && (await addressOf(name)).includes(`${h2.address}/24`);
        },
        { timeoutMs: 180_000, intervalMs: 1000 },
      );
    } finally {
      await h1.linkUp();
    }
    await waitFor(
      'the agent on h1 to answer again, its old job removed',
      async () => (await hostNow(0))?.status === 'idle' && (await agentJobs(h1)).length === 0,
      {
        timeoutMs: 120_000,
        intervalMs: 1000,
      },
    );
    expect((await agentJobs(h2)).length).toBe(1);
    await dstack(sb, ['stop', name, '-y']);
  });

  it('a run that finds every host busy waits when retry covers no-capacity, and starts when a host frees', async () => {
    const [x1, x2, waiting] = [runName('busy'), runName('busy'), runName('waits')];
    await startRun(x1);
    await startRun(x2);
    writeFileSync(
      join(repo, `${waiting}.dstack.yml`),
      devEnvYaml(waiting, `fleets: [${fleet}]\nretry:\n  on_events: [no-capacity]\n  duration: 10m\n`),
    );
    // apply -d returns once the run is up: it waits meanwhile.
    const applying = dstack(sb, ['apply', '-f', `${waiting}.dstack.yml`, '-y', '-d'], { cwd: repo, timeoutMs: 300_000 });
    await waitFor(
      'the run to wait for capacity',
      async () => {
        const r = (await listRuns(sb)).find((x) => x.name === waiting);
        return r?.status === 'submitted' && /busy with run/.test(r.statusMessage ?? '');
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const freed = (await addressOf(x1)).includes(`${h1.address}/24`) ? h1 : h2;
    await dstack(sb, ['stop', x1, '-y']);
    const res = await applying;
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(await addressOf(waiting)).toContain(`${freed.address}/24`);
    for (const name of [x2, waiting]) await dstack(sb, ['stop', name, '-y']);
  });

  it('a host whose key changed is refused, naming the host and the line of the recorded key', async () => {
    const known = join(sb.dstackHome, 'ssh', 'fleet_known_hosts');
    const other = join(sb.dir, 'other_key');
    await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const otherKey = readFileSync(`${other}.pub`, 'utf8').split(' ').slice(1, 2)[0];
    const lines = readFileSync(known, 'utf8').split('\n');
    const at = lines.findIndex((l) => l.startsWith(`${h2.address} `));
    lines[at] = `${h2.address} ssh-ed25519 ${otherKey}`;
    writeFileSync(known, lines.join('\n'));
    // A second fleet with h2: its first connection checks the key recorded for h2.
    const other2 = join(sb.dir, 'other.dstack.yml');
    writeFileSync(other2, fleetYaml(net, `${fleet}-b`, [h2]));
    const res = await dstack(sb, ['apply', '-f', other2, '-y'], { timeoutMs: 300_000 });
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(`REMOTE HOST IDENTIFICATION HAS CHANGED for host root@${h2.address}:22: it presents ED25519 key SHA256:`);
    expect(res.stdout).toContain(`but ${known}:${at + 1} has ED25519 key SHA256:`);
    expect(res.stdout).toContain('someone may be intercepting the connection');
    // A changed key is never a question: -y accepts unknown keys only.
    expect(res.stderr).not.toContain('Accepted (-y)');
    expect((await listFleets(sb)).find((f) => f.name === `${fleet}-b`)).toBeUndefined();
    expect((await listFleets(sb, true)).find((f) => f.name === `${fleet}-b`)?.status).toBe('failed');
  });
});
