// Live sync on the local backend (a Docker container of the harness's Debian image, read with
// OpenSSH's `ssh NAME`): local edits, new files, deletes and renames reach the container; ignored
// files and .git never do; ps -v and the attach stream show it; --stop and the end of the run close
// the watcher. The checks are in scenarios.ts (the SSH fleet host's suite runs them too).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Terminal, runName, sandbox, syncRepo, syncStatus, waitForRemoteFile } from './helpers';
import { LOCAL, withSyncRun } from './places';
import { EDITS_REPO, editsReachTheInstance } from './scenarios';

describe('live sync on the local backend: local edits reach the container', () => {
  it('edits, new files, deletes and renames of files and folders appear; ignored files and .git never do', { timeout: 400_000 }, () =>
    withSyncRun(LOCAL, 'sync-edits', EDITS_REPO, editsReachTheInstance),
  );

  it('`dstack apply --sync` shows the sync in its output, and Ctrl+C leaves it running in the daemon', { timeout: 300_000 }, async () => {
    const sb = sandbox('sync-apply');
    const name = runName('apply');
    let t: Terminal | undefined;
    try {
      const repo = await syncRepo(sb, name, 'init:\n  - echo job-started\n');
      t = new Terminal(sb, ['apply', '-f', '.dstack.yml', '-y', '--sync'], { cwd: repo });
      await t.expect(`Live sync is on: \`dstack sync ${name}\` shows it, \`dstack sync ${name} --stop\` stops it`);
      await t.expect(`Sync on: local changes in ${repo} go to ${name}:/workflow`);
      await t.expect('Sync: the instance is up to date');
      writeFileSync(join(repo, 'saved.txt'), 'saved in my editor\n');
      await t.expect('Synced 1 file: saved.txt');
      await waitForRemoteFile({ sb, name, dir: '/workflow' }, 'saved.txt', 'saved in my editor\n');
      t.interrupt();
      await t.expect('Detached');
      expect((await t.exited).exitCode).toBe(0);
      writeFileSync(join(repo, 'after-detach.txt'), 'the daemon still syncs\n');
      await waitForRemoteFile({ sb, name, dir: '/workflow' }, 'after-detach.txt', 'the daemon still syncs\n');
      expect((await syncStatus(sb, name)).state).toBe('watching');
    } finally {
      t?.kill();
      await sb.cleanup();
    }
  });
});
