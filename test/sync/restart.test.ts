// Sync on the local backend survives the daemon and the run's retries:
//  - kill -9 the daemon while a batch is on its way, change more files while it is down; the next
//    daemon resumes the sync and the remote tree matches the local one (scenarios.ts);
//  - `apply --sync` stays on across a retry of the run: the next attempt's job gets a session of its own.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { docker } from '../harness/docker';
import { localTree, syncStatus, waitForRemoteFile, waitForRemoteTree, waitForRun, waitForSync } from './helpers';
import { LOCAL, withSyncRun } from './places';
import { killMidSync } from './scenarios';

describe('live sync on the local backend across a daemon crash', () => {
  it('kill -9 mid-sync: after the restart the remote tree matches the local one', { timeout: 600_000 }, () =>
    withSyncRun(LOCAL, 'sync-kill', {}, killMidSync),
  );
});

describe('live sync on the local backend across a retry of the run', () => {
  it('stays on: the next attempt gets the changes made since', { timeout: 600_000 }, () =>
    withSyncRun(LOCAL, 'sync-retry', { config: 'retry:\n  on_events: [error]\n  duration: 10m\n' }, async (r) => {
      const { sb, name, repo } = r;
      await waitForSync(sb, name, (s) => s.state === 'watching', 'watching');
      writeFileSync(join(repo, 'first.txt'), 'synced into attempt 1\n');
      await waitForRemoteFile(r, 'first.txt', 'synced into attempt 1\n');
      const first = (await waitForRun(sb, name, (x) => Boolean(x.job?.containerId), 'running'))!;

      // The container dies: the run fails with an error and its retry policy starts attempt 2.
      await docker(['kill', first.job!.containerId!]);
      await waitForRun(
        sb,
        name,
        (x) =>
          x.status === 'running' && Boolean(x.sshAlias) && Boolean(x.job?.containerId) && x.job!.containerId !== first.job!.containerId,
        'running again in a new container',
        300_000,
      );
      await waitForSync(sb, name, (s) => s.state === 'watching', 'watching the new attempt');

      writeFileSync(join(repo, 'second.txt'), 'synced into attempt 2\n');
      await waitForRemoteFile(r, 'second.txt', 'synced into attempt 2\n');
      await waitForRemoteTree(r, () => localTree(sb, repo));
      expect((await syncStatus(sb, name)).state).toBe('watching');
    }),
  );
});
