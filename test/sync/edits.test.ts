// Live sync on the local backend (a Docker container of the harness's Debian image, read with
// OpenSSH's `ssh NAME`): local edits, new files, deletes and renames reach the container; ignored
// files and .git never do; ps -v and the attach stream show it; --stop and the end of the run close
// the watcher. The checks are in scenarios.ts (the SSH fleet host's suite runs them too).
import { describe, it } from 'vitest';
import { LOCAL, withSyncRun } from './places';
import { EDITS_REPO, editsReachTheInstance } from './scenarios';

describe('live sync on the local backend: local edits reach the container', () => {
  it('edits, new files, deletes and renames of files and folders appear; ignored files and .git never do', { timeout: 400_000 }, () =>
    withSyncRun(LOCAL, 'sync-edits', EDITS_REPO, editsReachTheInstance));
});
