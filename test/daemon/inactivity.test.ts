// inactivity_duration: an idle run stops by itself with dstack's reason; an open `ssh NAME` session
// and an attached CLI (Attach with count_as_activity) keep it alive; Run.activity.inactive_seconds
// grows while nobody is connected. In-place update: only inactivity_duration changed → the same
// container goes on with the new limit; any other change needs override.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import type { Run } from '@dstack/core/gen/daemon';
import { SMALL, Sandbox, configSource, containersOf, runName } from './helpers';

let sb: Sandbox | undefined;
afterEach(async () => {
  await sb?.cleanup();
  sb = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const devenv = (name: string, extra: string) => configSource(`type: dev-environment\nname: ${name}\n${extra}${SMALL}`);
/** Running, reachable and its container made: a run is `running` before its container id is known (container-id.test.ts). */
const upWithContainer = (name: string) => (r: Run) => r.status === 'running' && r.sshAlias === name && r.job?.containerId !== '';

describe('max_duration', () => {
  it('stops the run after that much running time, even while in use', async () => {
    sb = new Sandbox('maxdur');
    await sb.start();
    const name = runName('maxdur');
    await sb.apply({ configuration: devenv(name, 'max_duration: 5s\n'), noRepo: true });
    await sb.waitForRun(name, (r) => r.status === 'running' && r.sshAlias === name, 'running');
    const attached = sb.attach({ name, countAsActivity: true, noLogs: true });
    const done = await sb.waitForRun(name, (r) => r.status === 'terminated', 'stopped by max_duration', 60_000);
    attached.close();
    expect(done.terminationReason).toBe('max_duration_exceeded');
    expect(done.runningSeconds).toBeGreaterThanOrEqual(5);
    expect(await containersOf(name)).toEqual([]);
  });
});

describe('inactivity', () => {
  it('stops an idle run, but not while an ssh session or an attached CLI is open', async () => {
    sb = new Sandbox('idle');
    await sb.start();
    const name = runName('idle');
    await sb.apply({ configuration: devenv(name, 'inactivity_duration: 4s\n'), noRepo: true });
    await sb.waitForRun(name, (r) => r.status === 'running' && r.sshAlias === name, 'running');

    // An SSH session that lasts well past the limit keeps the run alive.
    const session = spawn('ssh', ['-F', join(sb.home, '.ssh', 'config'), '-o', 'BatchMode=yes', name, 'sleep 10; echo still-here'], {
      env: sb.env,
    });
    let out = '';
    session.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => session.on('exit', r));
    const busy = await sb.waitForRun(name, (r) => (r.activity?.execSessions ?? 0) + (r.activity?.shellSessions ?? 0) > 0, 'in use', 60_000);
    expect(busy.activity?.inactiveSeconds).toBe(0);
    expect(await exited).toBe(0);
    expect(out.trim()).toBe('still-here');
    expect((await sb.getRun(name)).status).toBe('running');

    // Attached with count_as_activity: alive too.
    const attached = sb.attach({ name, countAsActivity: true, noLogs: true });
    await sb.waitForRun(name, (r) => r.activity?.attachedClis === 1, 'attached', 30_000);
    await sleep(8000);
    expect((await sb.getRun(name)).status).toBe('running');
    attached.close();

    // Nobody: inactive_seconds grows, then the run stops by itself.
    const a = await sb.waitForRun(name, (r) => (r.activity?.inactiveSeconds ?? -1) >= 1, 'inactive 1s', 30_000);
    const b = await sb.waitForRun(
      name,
      (r) => (r.activity?.inactiveSeconds ?? -1) > a.activity!.inactiveSeconds || r.status !== 'running',
      'more inactive',
      30_000,
    );
    if (b.status === 'running') expect(b.activity!.inactiveSeconds).toBeGreaterThan(a.activity!.inactiveSeconds);
    const done = await sb.waitForRun(name, (r) => r.status === 'terminated', 'stopped by inactivity', 60_000);
    expect(done.terminationReason).toBe('inactivity_duration_exceeded');
    expect(await containersOf(name)).toEqual([]);
    expect(sb.hasHostBlock(name)).toBe(false);
  });

  it('updates inactivity_duration in place, with no restart; other changes need override', async () => {
    sb = new Sandbox('inplace');
    await sb.start();
    const name = runName('inplace');
    await sb.apply({ configuration: devenv(name, 'inactivity_duration: 1h\nenv:\n  - A=1\n'), noRepo: true });
    const before = await sb.waitForRun(name, upWithContainer(name), 'running in its container');
    const container = before.job!.containerId;

    const plan = await sb.plan({ configuration: devenv(name, 'inactivity_duration: 2h\nenv:\n  - A=1\n'), noRepo: true });
    expect(plan.currentRun?.name).toBe(name);
    expect(plan.changedFields).toEqual(['inactivity_duration']);
    expect(plan.inPlace).toBe(true);
    const other = await sb.plan({ configuration: devenv(name, 'inactivity_duration: 2h\nenv:\n  - A=2\n'), noRepo: true });
    expect(other.changedFields.sort()).toEqual(['env', 'inactivity_duration']);
    expect(other.inPlace).toBe(false);

    await expect(sb.apply({ configuration: devenv(name, 'inactivity_duration: 2h\nenv:\n  - A=2\n'), noRepo: true })).rejects.toMatchObject(
      {
        code: Status.ALREADY_EXISTS,
      },
    );
    await expect(sb.apply({ configuration: devenv(name, 'env:\n  - A=2\n'), noRepo: true, updateInPlace: true })).rejects.toMatchObject({
      code: Status.FAILED_PRECONDITION,
    });

    const updated = await sb.apply({
      configuration: devenv(name, 'inactivity_duration: 2h\nenv:\n  - A=1\n'),
      noRepo: true,
      updateInPlace: true,
    });
    expect(updated.status).toBe('running');
    expect(updated.configuration?.inactivityDuration).toBe(7200);
    expect(updated.job?.containerId).toBe(container);
    expect(updated.job?.jobId).toBe(before.job?.jobId);
    // The agent holds the new limit too (it enforces it while no daemon watches).
    const agentDir = join(sb.dstackHome, 'local', 'agent');
    const listed = await new Promise<string>((resolve, reject) => {
      const p = spawn(join(agentDir, 'bin', 'dstack-agent'), ['call', '--data-dir', agentDir, 'ListJobs']);
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.on('error', reject);
      p.on('close', () => resolve(out));
    });
    const job = (JSON.parse(listed).jobs as { spec: { jobId: string; limits?: { inactivityDurationSeconds: number } } }[]).find(
      (j) => j.spec.jobId === before.job?.jobId,
    );
    expect(job?.spec.limits?.inactivityDurationSeconds).toBe(7200);

    // Down to seconds: the same container stops by itself under the new limit.
    await sb.apply({ configuration: devenv(name, 'inactivity_duration: 3s\nenv:\n  - A=1\n'), noRepo: true, updateInPlace: true });
    const after = await sb.getRun(name);
    expect(after.job?.containerId).toBe(container);
    expect(await containersOf(name)).toEqual([container]);
    const done = await sb.waitForRun(name, (r) => r.status === 'terminated', 'stopped', 60_000);
    expect(done.terminationReason).toBe('inactivity_duration_exceeded');

    // Override: the old run is stopped, a new one submitted.
    await sb.apply({ configuration: devenv(name, 'env:\n  - A=1\n'), noRepo: true });
    const third0 = await sb.waitForRun(name, (r) => r.status === 'running', 'running again');
    const replaced = await sb.apply({ configuration: devenv(name, 'env:\n  - A=3\n'), noRepo: true, override: true });
    expect(['submitted', 'provisioning']).toContain(replaced.status);
    expect(replaced.id).not.toBe(third0.id);
    const third = await sb.waitForRun(name, upWithContainer(name), 'running in its container after override');
    expect((await sb.ssh(name, 'echo $A')).stdout.trim()).toBe('3');
    expect(await containersOf(name)).toEqual([third.job?.containerId]);
    const history = (await sb.listRuns(true)).filter((r) => r.name === name).map((r) => r.status);
    expect(history.sort()).toEqual(['running', 'terminated', 'terminated']);
  });
});
