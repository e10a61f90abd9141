// A daemon on a starved CPU: its process runs in a cgroup capped at 5% of one core, as a daemon
// fares on a 2-core machine with some forty busy processes. Its socket takes connections before the
// rest of the daemon is loaded and assembled (the part of a start that costs the most: seconds
// here), Status answers, and calls are served once the daemon is assembled.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { waitFor } from '../harness/util';
import { Sandbox, socketAccepts } from './helpers';

interface CpuGroup {
  /** Its cgroup.procs: a pid written there runs in the group. */
  procs: string;
  remove(): void;
}

/** A cgroup whose processes get at most `percent` of one core (cgroup v1's cpu controller, or v2's cpu.max). */
function cpuCappedGroup(percent: number): CpuGroup {
  const name = `dstack-test-slow-start-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const period = 100_000;
  const quota = Math.round((period * percent) / 100);
  const make = (root: string, limits: Record<string, string>): CpuGroup => {
    const dir = join(root, name);
    mkdirSync(dir);
    for (const [file, value] of Object.entries(limits)) writeFileSync(join(dir, file), value);
    return {
      procs: join(dir, 'cgroup.procs'),
      remove() {
        // Whatever is still in it goes back to the parent group first: a group with processes cannot be removed.
        for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
          try {
            writeFileSync(join(root, 'cgroup.procs'), pid);
          } catch {
            /* exited meanwhile */
          }
        }
        rmdirSync(dir);
      },
    };
  };
  if (existsSync('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')) {
    return make('/sys/fs/cgroup/cpu', { 'cpu.cfs_period_us': String(period), 'cpu.cfs_quota_us': String(quota) });
  }
  const v2 = '/sys/fs/cgroup';
  if (existsSync(join(v2, 'cgroup.controllers')) && readFileSync(join(v2, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('cpu')) {
    writeFileSync(join(v2, 'cgroup.subtree_control'), '+cpu');
    return make(v2, { 'cpu.max': `${quota} ${period}` });
  }
  throw new Error(
    'this suite caps a daemon\'s CPU with a cgroup: it needs root and the cpu controller (cgroup v1 /sys/fs/cgroup/cpu, or v2 with "cpu" in /sys/fs/cgroup/cgroup.controllers)',
  );
}

let group: CpuGroup | undefined;
let sb: Sandbox;
beforeAll(() => {
  group = cpuCappedGroup(5);
  sb = new Sandbox('slow-start');
});
afterAll(async () => {
  try {
    await sb?.cleanup();
  } finally {
    group?.remove();
  }
});

it('takes connections before the slow part of its start, answers Status, and serves the calls once assembled', async () => {
  const starting = sb.start({ cgroupProcs: group!.procs });
  await waitFor("the daemon's socket to take a connection", () => socketAccepts(sb.socket), { timeoutMs: 60_000, intervalMs: 20 });
  // The state is opened in the slow part (after the modules load): the socket was there before it.
  expect(existsSync(join(sb.dstackHome, 'state.db'))).toBe(false);
  expect(sb.daemonLog()).not.toContain('daemon ready');

  const first = await starting;
  expect(first.pid).toBe(sb.proc!.pid);
  expect(await sb.listRuns(true)).toEqual([]);
  const after = await sb.status();
  expect(after.backends).toContain('local');
  expect(after.startedMs).toBe(first.startedMs);
  expect(sb.daemonLog()).toContain('daemon ready');
});
