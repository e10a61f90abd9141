// Sync survives the daemon and the run's retries:
//  - kill -9 the daemon while a batch is on its way, change more files while it is down; the next
//    daemon resumes the sync with a reconcile and the remote tree matches the local one (full
//    listings with sha256s);
//  - `apply --sync` stays on across a retry of the run: the next attempt's job gets a session of its own.
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { docker } from '../harness/docker';
import { waitFor } from '../harness/util';
import {
  Terminal,
  applyDetached,
  daemonPid,
  localTree,
  mustDstack,
  remoteTree,
  runName,
  sandbox,
  syncRepo,
  syncStatus,
  waitForRemoteFile,
  waitForRemoteTree,
  waitForRun,
  waitForSync,
  writeFiles,
} from './helpers';

describe('live sync across a daemon crash', () => {
  it('kill -9 mid-sync: after the restart the remote tree matches the local one', { timeout: 600_000 }, async () => {
    const sb = sandbox('sync-kill');
    const name = runName('kill');
    let follow: Terminal | undefined;
    try {
      const repo = await syncRepo(sb, name);
      const want = () => localTree(sb, repo);
      await applyDetached(sb, repo);
      await waitForSync(sb, name, (s) => s.state === 'watching', 'watching');
      const pid = await daemonPid(sb);
      follow = new Terminal(sb, ['sync', name]);
      await follow.expect('Following its events');

      // A batch big enough to be caught on its way (the daemon announces it before it goes): 40
      // files of 2 MiB, and 300 small ones. The daemon dies right then.
      const big: Record<string, Buffer | string> = {};
      for (let i = 0; i < 40; i++) big[`data/blob${i}.bin`] = randomBytes(2 << 20);
      for (let i = 0; i < 300; i++) big[`small/s${i}.txt`] = `small ${i}\n`;
      writeFiles(repo, big);
      const sending = await follow.expect(/Sync: sending \d+ files \([\d.]+MB\)\.\.\./);
      process.kill(pid, 'SIGKILL');
      follow.kill();
      await waitFor('the daemon to be gone', () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      });
      const matchedAtKill = (await remoteTree(sb, name)).size === (await want()).size;
      console.log(`killed the daemon right after "${sending}"; the remote had every file by then: ${matchedAtKill}`);

      // Changes while no daemon watches: edit, create, delete, rename.
      writeFileSync(join(repo, 'modified.txt'), 'edited while the daemon was down\n');
      writeFiles(repo, { 'while-down/new.txt': 'created while the daemon was down\n' });
      rmSync(join(repo, 'committed.txt'));
      renameSync(join(repo, 'small'), join(repo, 'small-renamed'));
      rmSync(join(repo, 'data', 'blob7.bin'));

      // Any command starts the daemon again; it resumes the sync with a reconcile.
      const resumed = await waitForSync(sb, name, (s) => s.state === 'watching', 'resumed');
      expect(await daemonPid(sb)).not.toBe(pid);
      expect(resumed.error ?? '').toBe('');
      await waitForRemoteTree(sb, name, want);
      const remote = await remoteTree(sb, name);
      expect(remote.has('committed.txt')).toBe(false);
      expect(remote.has('small/s1.txt')).toBe(false);
      expect(remote.has('small-renamed/s1.txt')).toBe(true);
      expect(remote.has('data/blob7.bin')).toBe(false);
      expect([...remote.keys()].filter((p) => p.endsWith('.remote-conflict'))).toEqual([]);
      expect((await mustDstack(sb, ['logs', name])).stdout).toContain('Sync resumed after a daemon restart');
      expect(readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8')).toMatch(new RegExp(`sync ${name}: reconcile of \\d+ file\\(s\\)`));

      // And it watches again.
      writeFileSync(join(repo, 'after-restart.txt'), 'watched again\n');
      await waitForRemoteFile(sb, name, 'after-restart.txt', 'watched again\n');
    } finally {
      follow?.kill();
      await sb.cleanup();
    }
  });
});

describe('live sync across a retry of the run', () => {
  it('stays on: the next attempt gets the changes made since', { timeout: 600_000 }, async () => {
    const sb = sandbox('sync-retry');
    const name = runName('retry');
    try {
      const repo = await syncRepo(sb, name, 'retry:\n  on_events: [error]\n  duration: 10m\n');
      await applyDetached(sb, repo);
      await waitForSync(sb, name, (s) => s.state === 'watching', 'watching');
      writeFileSync(join(repo, 'first.txt'), 'synced into attempt 1\n');
      await waitForRemoteFile(sb, name, 'first.txt', 'synced into attempt 1\n');
      const first = (await waitForRun(sb, name, (r) => Boolean(r.job?.containerId), 'running'))!;

      // The container dies: the run fails with an error and its retry policy starts attempt 2.
      await docker(['kill', first.job!.containerId!]);
      const second = await waitForRun(
        sb,
        name,
        (r) => r.status === 'running' && Boolean(r.sshAlias) && Boolean(r.job?.containerId) && r.job!.containerId !== first.job!.containerId,
        'running again in a new container',
        300_000,
      );
      expect(second.status).toBe('running');
      await waitForSync(sb, name, (s) => s.state === 'watching', 'watching the new attempt');

      writeFileSync(join(repo, 'second.txt'), 'synced into attempt 2\n');
      await waitForRemoteFile(sb, name, 'second.txt', 'synced into attempt 2\n');
      await waitForRemoteTree(sb, name, () => localTree(sb, repo));
      expect((await syncStatus(sb, name)).state).toBe('watching');
    } finally {
      await sb.cleanup();
    }
  });
});
