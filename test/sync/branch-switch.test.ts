// A branch switch touching 5,000 files (4,000 changed, 500 added, 500 removed) reaches the instance as
// ONE batch: one PutManifest, one PutBlobs stream, one CommitCode. The count of agent round trips is
// logged by the daemon (daemon.log) and printed here, and asserted from the sync's counters.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  applyDetached,
  git,
  localTree,
  runName,
  sandbox,
  syncRepo,
  syncStatus,
  waitForRemoteTree,
  waitForSync,
  writeFiles,
} from './helpers';

const FILES = 5000;

describe('live sync: a branch switch', () => {
  it('of 5,000 files syncs in one batch of three agent round trips', { timeout: 600_000 }, async () => {
    const sb = sandbox('sync-branch');
    const name = runName('branch');
    try {
      const repo = await syncRepo(sb, name);
      const base: Record<string, string> = {};
      for (let i = 0; i < FILES; i++) base[`src/m${i % 50}/f${i}.py`] = `# main ${i}\n`;
      writeFiles(repo, base);
      await git(sb, repo, 'add', '-A');
      await git(sb, repo, 'commit', '-qm', 'main');
      await git(sb, repo, 'checkout', '-qb', 'feature');
      const feature: Record<string, string> = {};
      for (let i = 0; i < 4000; i++) feature[`src/m${i % 50}/f${i}.py`] = `# feature ${i}\n`;
      for (let i = 0; i < 500; i++) feature[`src/new${i % 10}/g${i}.py`] = `# added on feature ${i}\n`;
      writeFiles(repo, feature);
      await git(sb, repo, 'rm', '-q', ...Array.from({ length: 500 }, (_, i) => `src/m${(4500 + i) % 50}/f${4500 + i}.py`));
      await git(sb, repo, 'add', '-A');
      await git(sb, repo, 'commit', '-qm', 'feature');
      await git(sb, repo, 'checkout', '-q', '-');
      const want = () => localTree(sb, repo);

      await applyDetached(sb, repo);
      await waitForSync(sb, name, (s) => s.state === 'watching' && !s.pending, 'watching');
      await waitForRemoteTree(sb, name, want);
      const before = await syncStatus(sb, name);

      await git(sb, repo, 'checkout', '-q', 'feature');
      await waitForRemoteTree(sb, name, want, 300_000);
      const after = await waitForSync(sb, name, (s) => s.state === 'watching' && !s.pending, 'watching');

      const batches = (after.batches ?? 0) - (before.batches ?? 0);
      const roundTrips = (after.roundTrips ?? 0) - (before.roundTrips ?? 0);
      console.log(`branch switch of ${FILES} files: ${batches} batch(es), ${roundTrips} agent round trips`);
      expect(batches).toBe(1);
      expect(roundTrips).toBe(3);
      expect(after.lastBatchFiles).toBe(FILES);
      const log = readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8');
      expect(log).toMatch(new RegExp(`sync ${name}: delta of ${FILES} file\\(s\\): 4500 written, 500 removed, .*; 3 agent round trips \\(PutManifest, PutBlobs, CommitCode\\)`));
    } finally {
      await sb.cleanup();
    }
  });
});
