// Live sync on the local backend: files edited, created, deleted and renamed locally appear in the
// container (read with OpenSSH's `ssh NAME`); what git ignores (nested .gitignore, the global
// excludes file), .dstackignore's patterns and .git itself never do; ps -v and the attach stream show
// the sync; --stop and the end of the run close the watcher (the daemon holds no inotify watch).
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Terminal,
  applyDetached,
  daemonPid,
  git,
  inotifyWatches,
  localTree,
  mustDstack,
  remoteFile,
  remoteTree,
  runName,
  sandbox,
  ssh,
  syncRepo,
  syncStatus,
  waitForRemoteFile,
  waitForRemoteTree,
  waitForSync,
  writeFiles,
} from './helpers';

describe('live sync: local edits reach the container', () => {
  it('edits, new files, deletes and renames of files and folders appear; ignored files and .git never do', { timeout: 400_000 }, async () => {
    const sb = sandbox('sync-edits');
    const name = runName('sync');
    let attach: Terminal | undefined;
    try {
      const repo = await syncRepo(sb, name);
      // The global excludes file git honours, from the user's own ~/.gitconfig (the sandbox's HOME).
      writeFileSync(join(sb.home, '.gitignore_global'), '*.globalskip\n');
      writeFileSync(join(sb.home, '.gitconfig'), `[core]\n\texcludesFile = ${join(sb.home, '.gitignore_global')}\n`);
      writeFiles(repo, { 'sub/.gitignore': '*.log\n', '.dstackignore': 'secret/\n', 'docs/a.md': 'a\n', 'docs/deep/b.md': 'b\n' });
      await git(sb, repo, 'add', 'sub/.gitignore', '.dstackignore', 'docs');
      await git(sb, repo, 'commit', '-qm', 'docs');
      const want = () => localTree(sb, repo, (p) => p.startsWith('secret/'));

      // Up without sync first: the daemon watches nothing yet.
      await applyDetached(sb, repo, { sync: false });
      const pid = await daemonPid(sb);
      expect(inotifyWatches(pid)).toBe(0);
      const started = JSON.parse((await mustDstack(sb, ['sync', name, '--json'])).stdout);
      expect(started).toMatchObject({ runName: name, localDir: repo });
      await waitForSync(sb, name, (s) => s.state === 'watching', 'watching');
      expect(inotifyWatches(pid)).toBeGreaterThan(0);

      attach = new Terminal(sb, ['attach', name, '--no-logs']);
      await attach.expect(`ssh ${name}`);

      writeFileSync(join(repo, 'modified.txt'), 'edited locally\n');
      writeFiles(repo, { 'new/dir/file.txt': 'created\n' });
      rmSync(join(repo, 'committed.txt'));
      renameSync(join(repo, 'untracked.txt'), join(repo, 'renamed.txt'));
      renameSync(join(repo, 'docs'), join(repo, 'guide'));
      chmodSync(join(repo, 'renamed.txt'), 0o755);
      symlinkSync('renamed.txt', join(repo, 'link-to-renamed'));
      writeFiles(repo, {
        'sub/debug.log': 'nested .gitignore\n',
        'x.globalskip': 'global excludes\n',
        'secret/key.txt': '.dstackignore\n',
        'ignored.txt': 'still ignored, now edited\n',
      });
      mkdirSync(join(repo, '.git', 'sync-test'), { recursive: true });
      writeFileSync(join(repo, '.git', 'sync-test', 'never.txt'), 'never synced\n');

      await waitForRemoteTree(sb, name, want);
      const remote = await remoteTree(sb, name);
      expect(remote.get('modified.txt')).toBeDefined();
      expect(await remoteFile(sb, name, 'modified.txt')).toBe('edited locally\n');
      expect(await remoteFile(sb, name, 'new/dir/file.txt')).toBe('created\n');
      expect(remote.has('committed.txt')).toBe(false);
      expect(remote.has('untracked.txt')).toBe(false);
      expect(remote.get('renamed.txt')).toBeDefined();
      expect(remote.get('link-to-renamed')).toBe('link:renamed.txt');
      expect([...remote.keys()].filter((p) => p.startsWith('guide/'))).toEqual(['guide/a.md', 'guide/deep/b.md']);
      for (const p of ['sub/debug.log', 'x.globalskip', 'secret/key.txt', 'ignored.txt']) expect(remote.has(p), p).toBe(false);
      // Folders emptied by the rename are gone; .git was never sent; the mode came along.
      const dirs = await ssh(sb, name, 'cd /workflow && test ! -e docs && test ! -e .git && stat -c %a renamed.txt');
      expect(dirs.stdout.trim()).toBe('755');

      // The attach stream showed the batches as they went.
      await attach.expect(/Synced \d+ files?: /);

      // ps -v: the sync under the run's status.
      const ps = (await mustDstack(sb, ['ps', '-v'])).stdout;
      expect(ps).toContain('(sync: watching)');
      expect(ps).toMatch(/\(last synced (now|\d+ sec ago)\)/);
      const status = await syncStatus(sb, name);
      expect(status).toMatchObject({ state: 'watching', remoteDir: '/workflow' });
      expect(status.conflicts ?? []).toEqual([]);

      // --stop: the watcher closes, and the instance keeps what it has.
      const stopped = await mustDstack(sb, ['sync', name, '--stop']);
      expect(stopped.stdout).toBe(`Sync of ${name} stopped; the instance keeps what it has\n`);
      expect(await syncStatus(sb, name)).toMatchObject({ state: 'off', error: 'stopped by the user' });
      expect(inotifyWatches(pid)).toBe(0);
      expect(await remoteFile(sb, name, 'new/dir/file.txt')).toBe('created\n');
      expect((await mustDstack(sb, ['ps', '-v'])).stdout).not.toContain('(sync:');

      // On again: a reconcile brings what changed while it was off.
      writeFileSync(join(repo, 'while-off.txt'), 'made while sync was off\n');
      await mustDstack(sb, ['sync', name, '--json']);
      await waitForRemoteFile(sb, name, 'while-off.txt', 'made while sync was off\n');
      await waitForRemoteTree(sb, name, want);

      // The run ends: sync turns off by itself and no watcher is left.
      attach.kill();
      await mustDstack(sb, ['stop', name, '-y']);
      expect(await syncStatus(sb, name)).toMatchObject({ state: 'off', error: 'the run terminated' });
      expect(inotifyWatches(pid)).toBe(0);
      expect(existsSync(join(repo, '.git', 'sync-test', 'never.txt'))).toBe(true);
    } finally {
      attach?.kill();
      await sb.cleanup();
    }
  });
});
