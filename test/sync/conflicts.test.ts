// The guard on the local backend: a file changed on the instance since it was last synced is never
// overwritten; which copy ends up where, both ways (a remote edit then a local edit, a remote delete,
// a local delete of a remotely edited file), through a daemon restart, each conflict reported in
// `dstack ps -v`, the attach stream and `dstack sync NAME`. The checks are in scenarios.ts.
import { describe, it } from 'vitest';
import { LOCAL, withSyncRun } from './places';
import { conflictsBothWays } from './scenarios';

describe('live sync on the local backend: changes made on the instance', () => {
  it('are kept, never overwritten, and every conflict is reported', { timeout: 400_000 }, () =>
    withSyncRun(LOCAL, 'sync-conflicts', {}, conflictsBothWays),
  );
});
