// retry: a run whose spec no offer fits waits and tries again with exponential backoff while its
// retry duration lasts, then fails naming why; a failing job is retried on `error` the same way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMALL, Sandbox, configSource, containersOf, runName } from './helpers';

let sb: Sandbox;
beforeAll(async () => {
  sb = new Sandbox('retry');
  await sb.start();
});
afterAll(async () => {
  await sb?.cleanup();
});

describe('retry', () => {
  it('resubmits on no-capacity with growing delays until the retry duration is over', async () => {
    const name = runName('nocap');
    const cfg = configSource(
      `type: dev-environment\nname: ${name}\nretry:\n  on_events: [no-capacity]\n  duration: 10s\nresources:\n  gpu: 24GB\n  memory: 1GB..\n  disk: 1GB..\n`,
    );
    const run = await sb.apply({ configuration: cfg, noRepo: true });
    expect(['submitted', 'provisioning']).toContain(run.status);
    const attached = sb.attach({ name, noLogs: true });
    const failed = await sb.waitForRun(name, (r) => r.status === 'failed', 'failed', 120_000);
    await attached.ended;
    expect(failed.terminationReason).toBe('failed_to_start_due_to_no_capacity');
    expect(failed.statusMessage).toMatch(/^no offer fits: local.*GPU/);
    const retryAts = [
      ...new Set(
        attached.events.flatMap((e) =>
          e.payload?.$case === 'run' && e.payload.value.status === 'submitted' && e.payload.value.retryAtMs
            ? [e.payload.value.retryAtMs]
            : [],
        ),
      ),
    ];
    const notices = attached.events.flatMap((e) => (e.payload?.$case === 'notice' ? [e.payload.value] : []));
    // (The first notices may come before the stream opens: notices are not replayed.)
    expect(notices[0]).toMatch(/^No capacity; retrying in \ds \(attempt \d\)$/);
    expect(retryAts.length).toBeGreaterThanOrEqual(3);
    const gaps = retryAts.slice(1).map((t, i) => t - retryAts[i]);
    // 1 s, 2 s, 4 s ... between attempts (each gap also holds one quick provisioning try).
    expect(gaps[0]).toBeGreaterThanOrEqual(2000);
    expect(gaps[1]).toBeGreaterThanOrEqual(4000);
    expect(failed.job).toBeUndefined();
  });

  it('resubmits a failed job on error, then fails with its reason', async () => {
    const name = runName('onerr');
    const cfg = configSource(
      `type: dev-environment\nname: ${name}\nimage: dstack-test/missing:v0\nretry:\n  on_events: [error]\n  duration: 4s\n${SMALL}`,
    );
    await sb.apply({ configuration: cfg, noRepo: true });
    const failed = await sb.waitForRun(name, (r) => r.status === 'failed', 'failed', 120_000);
    expect(failed.terminationReason).toBe('creating_container_error');
    expect(failed.job?.attempt).toBeGreaterThanOrEqual(2);
    expect(await sb.logText(name)).toMatch(/Attempt 1 ended \(creating container error\); retrying in 1s/);
    expect(await containersOf(name)).toEqual([]);
  });
});
