// A branch switch touching 5,000 files (4,000 changed, 500 added, 500 removed) reaches the container
// as ONE batch: one PutManifest, one PutBlobs stream, one CommitCode. The daemon logs the agent round
// trips (daemon.log); the test prints and asserts them. The checks are in scenarios.ts.
import { describe, it } from 'vitest';
import { LOCAL, withSyncRun } from './places';
import { BRANCHES_REPO, branchSwitchIsOneBatch } from './scenarios';

describe('live sync on the local backend: a branch switch', () => {
  it('of 5,000 files syncs in one batch of three agent round trips', { timeout: 600_000 }, () =>
    withSyncRun(LOCAL, 'sync-branch', BRANCHES_REPO, branchSwitchIsOneBatch),
  );
});
