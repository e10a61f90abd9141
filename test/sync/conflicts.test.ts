// The guard: a file changed on the instance since it was last synced is never overwritten. Which copy
// ends up where, both ways:
//  - edited on the instance, then locally: PATH has your local version, PATH.remote-conflict the
//    instance's (a second conflict on the same path: PATH.remote-conflict.2; the first stays);
//  - edited on the instance only: it stays as the instance has it, also through a daemon restart's
//    reconcile (no conflict);
//  - deleted on the instance: it stays deleted until you change it locally, then your version comes
//    back (nothing of the instance's is lost, no conflict);
//  - deleted locally after an edit on the instance: PATH is gone, PATH.remote-conflict holds the
//    instance's version.
// Each conflict is reported in `dstack ps -v`, in the attach stream (a notice) and in `dstack sync NAME`.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Terminal,
  applyDetached,
  daemonPid,
  mustDstack,
  remoteFile,
  runName,
  sandbox,
  ssh,
  syncRepo,
  syncStatus,
  waitForRemoteFile,
  waitForSync,
  type Sandbox,
} from './helpers';

async function remoteWrite(sb: Sandbox, name: string, path: string, content: string) {
  const res = await ssh(sb, name, `printf '%s' '${content}' > /workflow/${path}`);
  expect(res.code, res.stderr).toBe(0);
}

describe('live sync: changes made on the instance', () => {
  it('are kept, never overwritten, and every conflict is reported', { timeout: 400_000 }, async () => {
    const sb = sandbox('sync-conflicts');
    const name = runName('conflict');
    let follow: Terminal | undefined;
    try {
      const repo = await syncRepo(sb, name);
      await applyDetached(sb, repo);
      await waitForSync(sb, name, (s) => s.state === 'watching', 'watching');
      follow = new Terminal(sb, ['sync', name]);
      await follow.expect('Following its events');

      // 1. Edited on the instance, then locally.
      await remoteWrite(sb, name, 'committed.txt', 'edited on the instance\n');
      writeFileSync(join(repo, 'committed.txt'), 'edited locally\n');
      await waitForRemoteFile(sb, name, 'committed.txt', 'edited locally\n');
      expect(await remoteFile(sb, name, 'committed.txt.remote-conflict')).toBe('edited on the instance\n');
      await follow.expect(
        "Sync conflict: committed.txt changed on the instance since it was last synced; the instance's version is kept as committed.txt.remote-conflict, committed.txt has your local version",
      );
      // Again on the same path: the first kept version stays, the second goes beside it.
      await remoteWrite(sb, name, 'committed.txt', 'second instance edit\n');
      writeFileSync(join(repo, 'committed.txt'), 'second local edit\n');
      await waitForRemoteFile(sb, name, 'committed.txt', 'second local edit\n');
      expect(await remoteFile(sb, name, 'committed.txt.remote-conflict.2')).toBe('second instance edit\n');
      expect(await remoteFile(sb, name, 'committed.txt.remote-conflict')).toBe('edited on the instance\n');

      // 2. Edited on the instance only: later batches leave it alone.
      await remoteWrite(sb, name, 'modified.txt', 'only the instance edited this\n');
      // 3. Deleted on the instance.
      const rm = await ssh(sb, name, 'rm /workflow/untracked.txt');
      expect(rm.code).toBe(0);
      writeFileSync(join(repo, 'other.txt'), 'an unrelated local change\n');
      await waitForRemoteFile(sb, name, 'other.txt', 'an unrelated local change\n');
      expect(await remoteFile(sb, name, 'modified.txt')).toBe('only the instance edited this\n');
      expect(await remoteFile(sb, name, 'untracked.txt')).toBeNull();

      // ... and through a daemon restart, whose reconcile sends the whole local tree.
      const before = await syncStatus(sb, name);
      const pid = await daemonPid(sb);
      await mustDstack(sb, ['daemon', 'stop']);
      follow.kill();
      const resumed = await waitForSync(sb, name, (s) => s.state === 'watching' && (s.batches ?? 0) > (before.batches ?? 0), 'resumed');
      expect(await daemonPid(sb)).not.toBe(pid);
      expect(resumed.conflicts).toHaveLength(2);
      expect(await remoteFile(sb, name, 'modified.txt')).toBe('only the instance edited this\n');
      expect(await remoteFile(sb, name, 'untracked.txt')).toBeNull();
      expect(await remoteFile(sb, name, 'modified.txt.remote-conflict')).toBeNull();
      expect((await mustDstack(sb, ['logs', name])).stdout).toContain('Sync resumed after a daemon restart');

      // A deleted file comes back when it changes locally; nothing was lost, so no conflict.
      writeFileSync(join(repo, 'untracked.txt'), 'changed locally after the instance deleted it\n');
      await waitForRemoteFile(sb, name, 'untracked.txt', 'changed locally after the instance deleted it\n');
      expect(await remoteFile(sb, name, 'untracked.txt.remote-conflict')).toBeNull();

      // 4. Deleted locally after an edit on the instance.
      follow = new Terminal(sb, ['sync', name]);
      await follow.expect('Following its events');
      await remoteWrite(sb, name, 'other.txt', 'the instance edited it\n');
      rmSync(join(repo, 'other.txt'));
      await waitForRemoteFile(sb, name, 'other.txt.remote-conflict', 'the instance edited it\n');
      expect(await remoteFile(sb, name, 'other.txt')).toBeNull();
      await follow.expect(
        "Sync conflict: other.txt changed on the instance since it was last synced; the instance's version is kept as other.txt.remote-conflict, other.txt is gone, as you deleted it locally",
      );

      // Reported in `dstack sync NAME` and `dstack ps -v`.
      const status = await mustDstack(sb, ['sync', name, '--status']);
      expect(status.stdout).toContain('  conflicts:   3 ');
      for (const line of ['committed.txt → committed.txt.remote-conflict (', 'committed.txt → committed.txt.remote-conflict.2 (', 'other.txt → other.txt.remote-conflict (']) {
        expect(status.stdout).toContain(line);
      }
      expect((await mustDstack(sb, ['ps', '-v'])).stdout).toContain('(3 conflicts)');
      // Every conflict line is in the run's log too.
      expect((await mustDstack(sb, ['logs', name])).stdout.match(/Sync conflict: /g)).toHaveLength(3);
    } finally {
      follow?.kill();
      await sb.cleanup();
    }
  });
});
