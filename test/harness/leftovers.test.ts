// The global teardown's check finds what a suite left behind under its dirs (and only there), and
// endUserHome ends it: a process working in the dir, a container of an agent whose code is mounted
// from it, and one labelled with a DSTACK_HOME in it; a container of another dir is not touched.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { docker } from './docker';
import { endUserHome, leftoversUnder } from './sandbox';
import { tempDir } from './util';

describe('leftoversUnder', () => {
  const mine = tempDir('leftovers-mine');
  const other = tempDir('leftovers-other');
  const started: string[] = [];
  const pids: number[] = [];
  afterAll(async () => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* ended by the test */
      }
    }
    if (started.length) await docker(['rm', '-f', ...started]).catch(() => undefined);
    mine.cleanup();
    other.cleanup();
  });

  const container = async (labels: Record<string, string>, bind?: string) => {
    const args = ['run', '-d', '--network', 'host', ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`])];
    if (bind) args.push('-v', `${bind}:/workflow`);
    const id = (await docker([...args, inject('busyboxImage'), 'sleep', '300'])).stdout.trim();
    started.push(id);
    return id;
  };

  it('finds processes and containers of a dir, and endUserHome ends them', async () => {
    const proc = spawn('sleep', ['300'], { cwd: mine.path, detached: true, stdio: 'ignore' });
    proc.unref();
    if (proc.pid) pids.push(proc.pid);
    const byBind = await container({ 'ai.dstack.job-id': 'leftover-1' }, mine.path);
    const byHome = await container({ 'ai.dstack.job-id': 'leftover-2', 'ai.dstack.home': join(mine.path, 'dh') });
    const elsewhere = await container({ 'ai.dstack.job-id': 'leftover-3' }, other.path);

    const found = await leftoversUnder(mine.path);
    expect(found.processes.map((p) => p.pid)).toEqual([proc.pid]);
    expect(found.containers.map((c) => c.id).sort()).toEqual([byBind, byHome].sort());

    await endUserHome(mine.path, join(mine.path, 'dh'));
    expect(await leftoversUnder(mine.path)).toEqual({ processes: [], containers: [] });
    expect((await leftoversUnder(other.path)).containers.map((c) => c.id)).toEqual([elsewhere]);
  });
});
