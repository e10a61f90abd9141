// The daemon's link to an agent drops (here: the agent is killed): the daemon reconnects with
// backoff, redeploys (starts the agent again) when it stays gone, and the run goes on; its SSH
// block follows what the agent reports.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../harness/util';
import { SMALL, Sandbox, configSource, containersOf, runName } from './helpers';

let sb: Sandbox | undefined;
afterEach(async () => {
  await sb?.cleanup();
  sb = undefined;
});

describe('agent connection', () => {
  it('comes back after the agent dies, and the run goes on', async () => {
    sb = new Sandbox('agentdies');
    await sb.start();
    const name = runName('agentdies');
    await sb.apply({ configuration: configSource(`type: dev-environment\nname: ${name}\n${SMALL}`), noRepo: true });
    // Up (ssh works) may come before the container has an id: the job's container is made while
    // the run starts; the test needs it known to check that the same one goes on.
    const up = await sb.waitForRun(name, (r) => r.status === 'running' && r.sshAlias === name && !!r.job?.containerId, 'running');
    const pidFile = join(sb.dstackHome, 'local', 'agent', 'agent.pid');
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    process.kill(pid, 'SIGKILL');

    await waitFor('the daemon to notice', () => sb!.daemonLog().includes('events stream dropped'), { timeoutMs: 30_000 });
    await waitFor(
      'a new agent',
      () => {
        const now = Number(readFileSync(pidFile, 'utf8').trim());
        return now !== pid && now > 0;
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    await waitFor('ssh to work again', async () => (await sb!.ssh(name, 'echo back')).stdout.trim() === 'back', {
      timeoutMs: 90_000,
      intervalMs: 1000,
    });
    const run = await sb.getRun(name);
    expect(run.status).toBe('running');
    expect(run.job?.containerId).toBe(up.job?.containerId);
    await sb.stop(name);
    expect(await containersOf(name)).toEqual([]);
  });
});
