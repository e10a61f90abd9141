// SSH fleets end to end, with real parts: four sshd hosts in network namespaces (h3 reachable only
// through j1), the built CLI and daemon, the agent deployed over SSH, OpenSSH as the user's client.
// One fleet of h1, h2 and h3 goes through its life: apply, list, runs landing on free hosts, `ssh
// NAME` through the jump host, a run that fits nowhere, a redeploy that sends nothing, delete.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fleet } from '@dstack/core/gen/daemon';
import { dstack, getRun, gitRepo, hasHostBlock, mustDstack, runName, ssh, type Sandbox } from '../cli/helpers';
import type { TestHostNetwork } from '../harness/ssh-hosts';
import { waitFor } from '../harness/util';
import { configSource } from '../daemon/helpers';
import {
  AGENT_DIR,
  applyFleetEvents,
  createTestHosts,
  devEnvYaml,
  fleetSandbox,
  fleetYaml,
  homeEntries,
  listFleets,
  processesIn,
} from './helpers';

describe('an SSH fleet of three hosts, one behind a jump host', () => {
  let net: TestHostNetwork;
  let sb: Sandbox;
  let repo: string;
  const fleet = runName('fleet');
  const runs = [runName('first'), runName('second'), runName('third')];
  const fleetFile = () => join(sb.dir, 'fleet.dstack.yml');

  beforeAll(async () => {
    net = await createTestHosts([{ name: 'h1' }, { name: 'h2' }, { name: 'j1' }, { name: 'h3', via: 'j1' }]);
    sb = fleetSandbox('fleet');
    writeFileSync(fleetFile(), fleetYaml(net, fleet, [net.host('h1'), net.host('h2'), net.host('h3')]));
    // The user's own file on a host: delete must leave it.
    writeFileSync(join(net.host('h1').homeDir, 'notes.txt'), 'mine\n');
    repo = await gitRepo(sb, devEnvYaml('unused'));
  });

  afterAll(async () => {
    await sb?.cleanup();
    await net?.destroy();
  });

  const fleetNow = async (): Promise<Fleet> => {
    const f = (await listFleets(sb)).find((x) => x.name === fleet);
    if (!f) throw new Error(`fleet ${fleet} is not listed`);
    return f;
  };

  /** Where a run is: the address its shell sees on the host (host mode). */
  const addressOf = async (name: string) => (await ssh(sb, name, 'ip -o -4 addr show')).stdout;

  it('apply deploys the agent to every host in parallel, through the jump host for h3, and warns that it runs detached', async () => {
    const res = await dstack(sb, ['apply', '-f', fleetFile(), '-y'], { timeoutMs: 600_000 });
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const [h1, h2, h3, j1] = ['h1', 'h2', 'h3', 'j1'].map((n) => net.host(n));
    // The plan: every host to add, h3 through j1.
    expect(res.stdout).toMatch(new RegExp(`^ root@${h3.address}:22 +root@${j1.address}:22 +add$`, 'm'));
    for (const h of [h1, h2, h3]) {
      const label = `root@${h.address}:22`;
      expect(res.stdout).toMatch(new RegExp(`^ ${label} +uploading the agent`, 'm'));
      expect(res.stdout).toMatch(new RegExp(`^ ${label} +warning: the agent runs as a detached process \\(no systemd`, 'm'));
      expect(res.stdout).toMatch(
        new RegExp(`^ ${label} +\\d+xCPU, \\d+GB, [\\d.]+GB \\(disk\\); agent uploaded \\([\\d.]+ MB compressed\\); detached$`, 'm'),
      );
    }
    // The fleet table at the end.
    const created = '(now|\\d+ sec ago|1 min ago)';
    expect(res.stdout).toMatch(new RegExp(`^ ${fleet} +3 +- +ssh +- +active +${created}$`, 'm'));
    expect(res.stdout.match(new RegExp(`^ {4}instance=\\d +\\d+xCPU.* ssh +- +idle +${created}$`, 'gm'))).toHaveLength(3);
    expect(res.stderr).toMatch(/^warning: on .* the agent runs as a detached process/m);
    // -y accepted the host keys of all four sshds, saying so, and they were recorded on first contact.
    for (const h of [h1, h2, h3, j1])
      expect(res.stderr).toMatch(
        new RegExp(
          `^Accepted \\(-y\\) the host key of (jump )?host root@${h.address.replace(/\./g, '\\.')}:22: ED25519 key fingerprint is SHA256:`,
          'm',
        ),
      );
    const known = readFileSync(join(sb.dstackHome, 'ssh', 'fleet_known_hosts'), 'utf8');
    for (const h of [h1, h2, h3, j1]) expect(known).toContain(`${h.address} ssh-ed25519 `);
    for (const h of [h1, h2, h3]) {
      expect(homeEntries(h)).toContain('.dstack-agent');
      expect(await processesIn(h, `${AGENT_DIR}/bin/dstack-agent serve`)).toHaveLength(1);
    }
  });

  it('`dstack fleet --json` lists each host with the resources its agent reported', async () => {
    const f = await fleetNow();
    expect(f).toMatchObject({ status: 'active', backend: 'ssh' });
    expect(f.instances.map((i) => [i.name, i.hostname, i.status, i.agentSupervisor])).toEqual([
      [`${fleet}-0`, net.host('h1').address, 'idle', 'detached'],
      [`${fleet}-1`, net.host('h2').address, 'idle', 'detached'],
      [`${fleet}-2`, net.host('h3').address, 'idle', 'detached'],
    ]);
    for (const i of f.instances) {
      expect(i.resources!.cpus).toBeGreaterThan(0);
      expect(i.resources!.memoryGb).toBeGreaterThan(0);
      expect(i.resources!.diskGb).toBeGreaterThan(0);
    }
    expect(f.instances[2].sshProxy).toBe(`root@${net.host('j1').address}:22`);
    const verbose = await mustDstack(sb, ['fleet', '-v']);
    expect(verbose.stdout).toMatch(new RegExp(`instance=2 .* root@${net.host('h3').address.replace(/\./g, '\\.')}:22`));
    expect(verbose.stdout).toMatch(new RegExp(`via root@${net.host('j1').address.replace(/\./g, '\\.')}:22`));
    expect(verbose.stderr).toMatch(/^warning: on .* the agent runs as a detached process/m);
    // Offers: backend ssh, price $0, the hosts' real resources.
    const offers = JSON.parse((await mustDstack(sb, ['offer', '--json', '--cpu', '1..'])).stdout).offers as {
      backend: string;
      price?: number;
      instanceName: string;
      fleet: string;
    }[];
    expect(
      offers
        .filter((o) => o.backend === 'ssh')
        .map((o) => o.instanceName)
        .sort(),
    ).toEqual([`${fleet}-0`, `${fleet}-1`, `${fleet}-2`]);
    expect(offers.filter((o) => o.backend === 'ssh').every((o) => !o.price)).toBe(true);
  });

  it('a dev environment lands on a free host; a second one on another; the third through the jump host, with `ssh NAME`', async () => {
    const hosts = ['h1', 'h2', 'h3'].map((n) => net.host(n));
    for (const [i, name] of runs.entries()) {
      writeFileSync(join(repo, `${name}.dstack.yml`), devEnvYaml(name, `fleets: [${fleet}]`));
      const res = await dstack(sb, ['apply', '-f', `${name}.dstack.yml`, '-y', '-d'], { cwd: repo, timeoutMs: 300_000 });
      expect(res.code, res.stderr + res.stdout).toBe(0);
      expect(res.stdout).toMatch(/^ 1 {2}ssh +remote +\d+xCPU/m);
      const r = await getRun(sb, name);
      expect(r?.status).toBe('running');
      // OpenSSH with the generated config (through ~/.ssh/config's Include): it is on host i.
      expect(await addressOf(name)).toContain(`${hosts[i].address}/24`);
      const code = await ssh(sb, name, 'cat untracked.txt');
      expect(code.stdout).toBe('untracked-content\n');
    }
    // The third went through j1: its Host block jumps twice (j1, then h3's sshd, then the agent on h3's 127.0.0.1).
    const cfg = readFileSync(join(sb.dstackHome, 'ssh', 'config'), 'utf8');
    const block = cfg.slice(cfg.indexOf(`# >>> dstack run ${runs[2]}`), cfg.indexOf(`# <<< dstack run ${runs[2]}`));
    expect(block).toContain(`Host ${runs[2]}-jump2\n  HostName ${net.host('j1').address}`);
    expect(block).toContain(`Host ${runs[2]}-jump\n  HostName ${net.host('h3').address}`);
    expect(block).toMatch(new RegExp(`Host ${runs[2]}\\n  HostName 127\\.0\\.0\\.1\\n`));
    expect(block).toContain(`IdentityFile ${net.keyPath}`);
    // Every hop's key is pinned: the run's, h3's and j1's (the keys the daemon checked), never accept-new.
    expect(block).not.toContain('accept-new');
    expect(block.match(/^ {2}StrictHostKeyChecking yes$/gm)).toHaveLength(3);
    expect(block.match(/^ {2}HostKeyAlias /gm)).toHaveLength(3);
    const fleetState = await fleetNow();
    expect(fleetState.instances.map((i) => [i.status, i.runName])).toEqual(runs.map((r) => ['busy', r]));
  });

  it('a run that fits nowhere is refused with the reason for each host', async () => {
    writeFileSync(
      join(repo, 'gpu.dstack.yml'),
      `type: dev-environment\nname: ${runName('gpu')}\nfleets: [${fleet}]\nresources:\n  gpu: 1\n`,
    );
    const gpu = await dstack(sb, ['apply', '-f', 'gpu.dstack.yml', '-y', '-d'], { cwd: repo });
    expect(gpu.code).toBe(1);
    expect(gpu.stderr).toMatch(new RegExp(`ssh ${fleet}-0: needs .*GPU.*, host has none`));
    // Every host busy: no capacity, naming the run on each.
    const fourth = runName('fourth');
    writeFileSync(join(repo, 'fourth.dstack.yml'), devEnvYaml(fourth, `fleets: [${fleet}]`));
    const busy = await dstack(sb, ['apply', '-f', 'fourth.dstack.yml', '-y', '-d'], { cwd: repo });
    expect(busy.code).toBe(1);
    for (const [i, r] of runs.entries())
      expect(busy.stderr).toContain(`ssh ${fleet}-${i} (root@${net.host(['h1', 'h2', 'h3'][i]).address}:22): busy with run ${r}`);
    expect(await getRun(sb, fourth)).toBeUndefined();
  });

  it('a restarted daemon finds the agents on the fleet hosts again; their runs never stopped', async () => {
    const uploads = () => (readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8').match(/uploading the agent/g) ?? []).length;
    const before = uploads();
    await mustDstack(sb, ['daemon', 'stop']);
    // SSH into a run does not go through the daemon.
    expect(await addressOf(runs[2])).toContain(`${net.host('h3').address}/24`);
    await waitFor('the fleet hosts to be busy again', async () => (await fleetNow()).instances.every((i) => i.status === 'busy'), {
      timeoutMs: 120_000,
      intervalMs: 1000,
    });
    for (const name of runs) expect((await getRun(sb, name))?.status).toBe('running');
    expect(uploads()).toBe(before);
  });

  it('a redeploy to hosts that have the agent sends no agent bytes and leaves the runs alone', async () => {
    const res = await dstack(sb, ['apply', '-f', fleetFile(), '-y', '--force'], { timeoutMs: 300_000 });
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(res.stdout).not.toMatch(/uploading the agent/);
    expect(res.stdout.match(/agent already there \(nothing uploaded\)/g)).toHaveLength(3);
    // The same through the daemon's API: each host's stages and the bytes it was sent.
    const events = await applyFleetEvents(sb, {
      configuration: configSource(readFileSync(fleetFile(), 'utf8'), { path: fleetFile() }),
      redeploy: true,
    });
    for (const h of ['h1', 'h2', 'h3'].map((n) => `root@${net.host(n).address}:22`)) {
      const stages = events.filter((e) => e.host === h).map((e) => e.stage);
      expect(stages[0]).toBe('connecting');
      expect(stages).toContain('ready');
      expect(stages).not.toContain('uploading_agent');
      expect(events.filter((e) => e.host === h).every((e) => e.uploadedBytes === 0)).toBe(true);
    }
    expect(events.at(-1)).toMatchObject({ stage: 'done', error: false });
    for (const name of runs) expect((await getRun(sb, name))?.status).toBe('running');
    expect(await addressOf(runs[0])).toContain(`${net.host('h1').address}/24`);
  });

  it('re-apply removes a host only when told to stop its run, and adds one back without touching the others', async () => {
    const [h1, h2, h3] = ['h1', 'h2', 'h3'].map((n) => net.host(n));
    const smaller = join(sb.dir, 'smaller.dstack.yml');
    writeFileSync(smaller, fleetYaml(net, fleet, [h1, h2]));
    const refused = await dstack(sb, ['apply', '-f', smaller, '-y']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(new RegExp(`^ root@${h3.address}:22 .* remove \\(stops run ${runs[2]}\\)$`, 'm'));
    expect(refused.stderr).toContain(`removing root@${h3.address}:22 stops run ${runs[2]}: stop the run first, or pass --force`);
    expect((await fleetNow()).instances.map((i) => i.status)).toEqual(['busy', 'busy', 'busy']);

    const agents = async () => [
      ...(await processesIn(h1, `${AGENT_DIR}/bin/dstack-agent serve`)),
      ...(await processesIn(h2, `${AGENT_DIR}/bin/dstack-agent serve`)),
    ];
    const before = await agents();
    const removed = await dstack(sb, ['apply', '-f', smaller, '-y', '--force'], { timeoutMs: 300_000 });
    expect(removed.code, removed.stderr + removed.stdout).toBe(0);
    expect((await getRun(sb, runs[2]))?.status).toBe('terminated');
    expect(homeEntries(h3)).not.toContain('.dstack-agent');
    expect((await fleetNow()).instances.map((i) => i.name)).toEqual([`${fleet}-0`, `${fleet}-1`]);

    const again = await dstack(sb, ['apply', '-f', fleetFile(), '-y'], { timeoutMs: 300_000 });
    expect(again.code, again.stderr + again.stdout).toBe(0);
    const progress = again.stdout.slice(again.stdout.indexOf('Updating...'));
    expect(progress).toContain(`root@${h3.address}:22  connecting through root@${net.host('j1').address}:22`);
    for (const h of [h1, h2]) expect(progress).not.toMatch(new RegExp(`^ root@${h.address}:22 `, 'm'));
    // The other hosts' agents were not restarted, their runs go on.
    expect(await agents()).toEqual(before);
    for (const name of runs.slice(0, 2)) expect((await getRun(sb, name))?.status).toBe('running');
    expect((await fleetNow()).instances.map((i) => [i.name, i.status])).toEqual([
      [`${fleet}-0`, 'busy'],
      [`${fleet}-1`, 'busy'],
      [`${fleet}-2`, 'idle'],
    ]);
  });

  it('delete refuses while runs are on the fleet, then with --force stops them and removes what it installed, keeping the user’s files', async () => {
    const refused = await dstack(sb, ['fleet', 'delete', fleet, '-y']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`fleet ${fleet} has active runs: ${runs[0]} (on ${fleet}-0)`);
    expect((await fleetNow()).status).toBe('active');

    const del = await dstack(sb, ['fleet', 'delete', fleet, '-y', '--force'], { timeoutMs: 300_000 });
    expect(del.code, del.stderr + del.stdout).toBe(0);
    expect(del.stdout).toContain(`Fleet ${fleet} deleted`);
    for (const name of runs) {
      expect((await getRun(sb, name))?.status).toBe('terminated');
      expect(hasHostBlock(sb, name)).toBe(false);
    }
    for (const h of ['h1', 'h2', 'h3'].map((n) => net.host(n))) {
      expect(homeEntries(h)).not.toContain('.dstack-agent');
      expect(await processesIn(h, 'dstack-agent')).toEqual([]);
      expect(await processesIn(h, 'DSTACK_JOB_ID=')).toEqual([]);
    }
    expect(readFileSync(join(net.host('h1').homeDir, 'notes.txt'), 'utf8')).toBe('mine\n');
    expect((await mustDstack(sb, ['fleet'])).stdout).toMatch(/^No fleets/);
  });
});
