// kill -9 of the daemon at any moment is safe: runs belong to the agents, every transition is in
// SQLite before it takes effect, and the next start reconciles. Killed while provisioning, the run
// comes up once (no second container); killed while running, it keeps running and SSH keeps
// working; killed mid-stop, the stop finishes. One daemon per DSTACK_HOME.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../harness/util';
import { DAEMON, SMALL, Sandbox, configSource, containersOf, gitRepo, runName } from './helpers';

let sb: Sandbox | undefined;
afterEach(async () => {
  await sb?.cleanup();
  sb = undefined;
});

describe('daemon restarts', () => {
  it('survives kill -9 during provisioning, while running and while stopping', async () => {
    sb = new Sandbox('kill9');
    await sb.start();
    const repo = await gitRepo(sb.dir);
    // Enough files that the upload is still going when the daemon dies.
    mkdirSync(join(repo, 'many'));
    for (let i = 0; i < 2000; i++) writeFileSync(join(repo, 'many', `f${i}.txt`), `file ${i}\n`);
    const name = runName('kill');
    await sb.apply({ configuration: configSource(`type: dev-environment\nname: ${name}\n${SMALL}`), repoDir: repo });
    await sb.kill9();

    await sb.start();
    // Up before its container id is known (container-id.test.ts): wait for both.
    const up = await sb.waitForRun(
      name,
      (r) => r.status === 'running' && r.sshAlias === name && r.job?.containerId !== '',
      'running after the restart',
    );
    expect(await containersOf(name)).toEqual([up.job?.containerId]);
    const ls = await sb.ssh(name, 'ls /workflow/many | wc -l; cat /workflow/untracked.txt');
    expect(ls.stdout.split('\n').slice(0, 2)).toEqual(['2000', 'untracked-content']);

    // Killed while running: the same container goes on, SSH still works with the same pinned key.
    await sb.kill9();
    expect((await sb.ssh(name, 'echo alive')).stdout.trim()).toBe('alive'); // no daemon in the byte path
    await sb.start();
    const again = await sb.waitForRun(name, (r) => r.status === 'running' && r.sshAlias === name, 'running after the second restart');
    expect(again.job?.containerId).toBe(up.job?.containerId);
    expect((await sb.ssh(name, 'echo still')).stdout.trim()).toBe('still');
    expect(sb.daemonLog()).toContain(`reconcile run ${name} (running)`);

    // Killed in the middle of a stop: the next start finishes it.
    const pending = sb.stop(name).catch(() => undefined);
    await sb.waitForRun(name, (r) => r.status === 'terminating' || r.status === 'terminated', 'stopping', 30_000);
    await sb.kill9();
    await pending;
    await sb.start();
    const done = await sb.waitForRun(name, (r) => r.status === 'terminated', 'terminated', 120_000);
    expect(done.terminationReason).toBe('stopped_by_user');
    expect(await containersOf(name)).toEqual([]);
    expect(sb.hasHostBlock(name)).toBe(false);
  });

  it('refuses a second daemon for the same home, and takes over a dead one, reusing the running agent', async () => {
    sb = new Sandbox('lock');
    const first = await sb.start();
    const cfg = configSource(`type: dev-environment\nname: lock\n${SMALL}`);
    expect((await sb.plan({ configuration: cfg, noRepo: true })).offers).toHaveLength(1);
    const second = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [DAEMON], { env: sb!.env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      p.stderr.on('data', (d) => (stderr += d));
      p.on('exit', (code) => resolve({ code, stderr }));
    });
    expect(second.code).toBe(3);
    expect(second.stderr).toContain(`a dstack daemon is already running for ${sb.dstackHome} (pid ${first.pid})`);
    expect((await sb.status()).pid).toBe(first.pid);
    await sb.kill9();
    const next = await sb.start();
    expect(next.pid).not.toBe(first.pid);
    // The agent outlived the daemon: the new one finds it answering, with the same sha256.
    expect((await sb.plan({ configuration: cfg, noRepo: true })).offers).toHaveLength(1);
    const log = sb.daemonLog();
    expect(log.match(/uploading the agent/g)).toHaveLength(1);
    expect(log.match(/agent on this machine: agent \S+ \(pid \d+\) answers/g)).toHaveLength(1);
  });

  it('removes a container no run owns, even when state.db was lost', async () => {
    sb = new Sandbox('orphan');
    await sb.start();
    const name = runName('orphan');
    await sb.apply({ configuration: configSource(`type: dev-environment\nname: ${name}\n${SMALL}`), noRepo: true });
    // Running and reachable comes before the container id is known (container-id.test.ts).
    const up = await sb.waitForRun(name, (r) => r.status === 'running' && r.sshAlias === name && r.job?.containerId !== '', 'running');
    expect(await containersOf(name)).toEqual([up.job?.containerId]);
    await sb.kill9();
    for (const f of ['state.db', 'state.db-wal', 'state.db-shm']) rmSync(join(sb.dstackHome, f), { force: true });
    await sb.start();
    await waitFor('the orphan to be removed', async () => (await containersOf(name)).length === 0, { timeoutMs: 60_000, intervalMs: 500 });
    expect(sb.daemonLog()).toMatch(new RegExp(`orphaned job \\S+ \\(run ${name}\\) on local: removing it`));
    expect(await sb.listRuns(true)).toEqual([]);
    await waitFor('its SSH block to go', () => !sb!.hasHostBlock(name), { timeoutMs: 30_000 });
  });

  it('does not start on a bad config.yml, naming file:line:col', async () => {
    sb = new Sandbox('badconfig');
    const file = join(sb.dstackHome, 'config.yml');
    writeFileSync(file, 'base_image: x\nrepo_size_limit: lots\n');
    const res = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [DAEMON], { env: sb!.env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      p.stderr.on('data', (d) => (stderr += d));
      p.on('exit', (code) => resolve({ code, stderr }));
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(`dstack daemon: ${file}:2:18: repo_size_limit: expected a size like 500MB or 1GB, got "lots"\n`);
    expect(existsSync(join(sb.dstackHome, 'daemon.pid'))).toBe(false);
    expect(existsSync(join(sb.dstackHome, 'daemon.sock'))).toBe(false);
  });
});
