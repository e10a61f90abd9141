// Live sync to an SSH fleet host: a network-namespace host with its own sshd (test/harness/ssh-hosts.ts),
// made a fleet through the CLI (`dstack apply -f fleet.dstack.yml -y`), a dev environment on it with
// `fleets: [NAME]` (the job runs in host mode there; its working dir is read with `ssh NAME`, which
// jumps through the host's sshd). The same checks as on the local backend (scenarios.ts), each on a
// host, fleet and run of its own.
import { describe, it } from 'vitest';
import { FLEET_HOST, withSyncRun } from './places';
import { BRANCHES_REPO, EDITS_REPO, branchSwitchIsOneBatch, conflictsBothWays, editsReachTheInstance, killMidSync } from './scenarios';

describe('live sync on an SSH fleet host', () => {
  it('edits, new files, deletes and renames appear; ignored files and .git never do', { timeout: 600_000 }, () =>
    withSyncRun(FLEET_HOST, 'sync-fleet-edits', EDITS_REPO, editsReachTheInstance),
  );

  it('changes made on the instance are kept, never overwritten, and reported', { timeout: 600_000 }, () =>
    withSyncRun(FLEET_HOST, 'sync-fleet-conflicts', {}, conflictsBothWays),
  );

  it('a branch switch of 5,000 files is one batch of three agent round trips', { timeout: 900_000 }, () =>
    withSyncRun(FLEET_HOST, 'sync-fleet-branch', BRANCHES_REPO, branchSwitchIsOneBatch),
  );

  it('kill -9 of the daemon mid-sync: after the restart the remote tree matches the local one', { timeout: 600_000 }, () =>
    withSyncRun(FLEET_HOST, 'sync-fleet-kill', {}, killMidSync),
  );
});
