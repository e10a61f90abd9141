// One sync session (packages/daemon/src/sync/session.ts) against the real agent executable (a
// host-mode job): it reconciles, sends a delta per batch, goes to `error` with a retry timer while the
// agent cannot be reached and catches up once it can, and close() leaves nothing behind: no watcher
// (FSEventWrap handles), no timer (Timeout handles), the batcher disarmed.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobState } from '@dstack/core/gen/agent';
import { AgentRpc } from '@dstack/daemon/agent/rpc';
import { HashCache } from '@dstack/daemon/code/hash-cache';
import { createLogger } from '@dstack/daemon/logger';
import { SyncSession, type BatchReport } from '@dstack/daemon/sync/session';
import type { SyncState } from '@dstack/daemon/sync/state';
import { startAgent, uniqueId, type AgentProcess } from '../agent/agent';
import { mustRun, tempDir, waitFor } from '../harness/util';

function handles(kind: string): number {
  return process.getActiveResourcesInfo().filter((r) => r === kind).length;
}

describe('a sync session against the agent', () => {
  let agent: AgentProcess;
  let stopAgent: () => Promise<void>;
  let rpc: AgentRpc;
  let jobId: string;
  const repo = tempDir('sync-session');

  beforeAll(async () => {
    ({ agent, cleanup: stopAgent } = await startAgent({ DOCKER_HOST: 'unix:///nonexistent/docker.sock' }));
    jobId = uniqueId('sync');
    await agent.submit({ jobId, runtime: 'host', expectCode: true });
    await agent.waitState(jobId, JobState.JOB_STATE_WAITING_CODE);
    rpc = new AgentRpc(`unix://${agent.socket}`);
    const git = (...args: string[]) => mustRun('git', ['-C', repo.path, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args]);
    await git('init', '-q');
    writeFileSync(join(repo.path, 'a.txt'), 'a1\n');
    await git('add', '.');
    await git('commit', '-qm', 'init');
  });
  afterAll(async () => {
    rpc?.close();
    await stopAgent?.();
    repo.cleanup();
  });

  it('reconciles, sends batches, retries while the agent is away, and closes without a trace', { timeout: 120_000 }, async () => {
    const wd = join(agent.dataDir, 'jobs', jobId, 'workflow');
    const states: SyncState[] = [];
    const batches: BatchReport[] = [];
    let reachable = true;
    const baseline = { watchers: handles('FSEventWrap'), timers: handles('Timeout') };
    const session = new SyncSession({
      runName: 'session-test',
      root: repo.path,
      jobId,
      agent: async () => {
        if (!reachable) throw new Error('the agent cannot be reached');
        return rpc;
      },
      hashCache: new HashCache(null),
      repoSizeLimit: 1 << 30,
      log: createLogger(null),
      onState: (s) => states.push(s),
      onBatch: (b) => batches.push(b),
    });
    await session.start();
    await waitFor('the reconcile', () => batches.some((b) => b.kind === 'reconcile'));
    expect(readFileSync(join(wd, 'a.txt'), 'utf8')).toBe('a1\n');
    expect(handles('FSEventWrap')).toBeGreaterThan(baseline.watchers);

    writeFileSync(join(repo.path, 'a.txt'), 'a2\n');
    mkdirSync(join(repo.path, 'd'));
    writeFileSync(join(repo.path, 'd', 'b.txt'), 'b\n');
    await waitFor(
      'the delta',
      () => readFileSync(join(wd, 'a.txt'), 'utf8') === 'a2\n' && readFileSync(join(wd, 'd/b.txt'), 'utf8') === 'b\n',
      { timeoutMs: 30_000 },
    );
    // The agent writes the files before its answer reaches the session, which reports the batch then.
    const deltaPaths = () =>
      batches
        .filter((b) => b.kind === 'delta')
        .flatMap((b) => b.paths)
        .sort();
    await waitFor('the delta batches reported', () => deltaPaths().length >= 2);
    expect(deltaPaths()).toEqual(['a.txt', 'd/b.txt']);

    // The agent goes away: the batch fails, stays pending, and a retry is scheduled.
    reachable = false;
    writeFileSync(join(repo.path, 'a.txt'), 'a3\n');
    await waitFor('the error state', () => states[states.length - 1] === 'error', { timeoutMs: 30_000 });
    expect(session.pending).toBe(1);
    expect(session.idle).toBe(false);
    // It comes back: the retry sends what was pending.
    reachable = true;
    await waitFor('the retried batch', () => readFileSync(join(wd, 'a.txt'), 'utf8') === 'a3\n', { timeoutMs: 30_000 });
    await waitFor('watching again', () => states[states.length - 1] === 'watching');
    expect(states).toEqual(expect.arrayContaining(['syncing', 'watching', 'error']));

    // Away again, with a retry pending: close() cancels it and the watcher.
    reachable = false;
    writeFileSync(join(repo.path, 'a.txt'), 'a4\n');
    await waitFor('the error state again', () => states[states.length - 1] === 'error', { timeoutMs: 30_000 });
    await session.close();
    expect(session.idle).toBe(true);
    // (A closed handle leaves the list once the event loop has run its close callback.)
    await waitFor('no watcher left', () => handles('FSEventWrap') === baseline.watchers, { timeoutMs: 5_000, intervalMs: 50 });
    await waitFor('no timer left', () => handles('Timeout') <= baseline.timers, { timeoutMs: 5_000, intervalMs: 50 });
    const sent = batches.length;
    writeFileSync(join(repo.path, 'a.txt'), 'after close\n');
    reachable = true;
    await new Promise((r) => setTimeout(r, 300));
    expect(batches.length).toBe(sent);
  });
});
