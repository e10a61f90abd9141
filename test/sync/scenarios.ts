// The live sync checks, each on a run of its own wherever it lives (places.ts): the local backend's
// suites and the SSH fleet host's run the same ones.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { waitFor } from '../harness/util';
import {
  Terminal,
  daemonPid,
  git,
  inotifyWatches,
  localTree,
  mustDstack,
  remoteFile,
  remoteTree,
  ssh,
  syncStatus,
  waitForRemoteFile,
  waitForRemoteTree,
  waitForSync,
  writeFiles,
  type Sandbox,
} from './helpers';
import type { RunOptions, SyncRun } from './places';

/** The user's global excludes file (in the sandbox's ~/.gitconfig), a nested .gitignore, a .dstackignore, and a folder to rename. */
export const EDITS_REPO: RunOptions = {
  sync: false,
  async prepare(sb: Sandbox, repo: string) {
    writeFileSync(join(sb.home, '.gitignore_global'), '*.globalskip\n');
    writeFileSync(join(sb.home, '.gitconfig'), `[core]\n\texcludesFile = ${join(sb.home, '.gitignore_global')}\n`);
    writeFiles(repo, { 'sub/.gitignore': '*.log\n', '.dstackignore': 'secret/\n', 'docs/a.md': 'a\n', 'docs/deep/b.md': 'b\n' });
    await git(sb, repo, 'add', 'sub/.gitignore', '.dstackignore', 'docs');
    await git(sb, repo, 'commit', '-qm', 'docs');
  },
};

/**
 * Edits, new files, deletes and renames (of files and a folder, with a mode and a symlink) appear;
 * ignored files (nested .gitignore, the global excludes, .dstackignore) and .git never do; the attach
 * stream and ps -v show the sync; --stop and the end of the run leave no watcher (inotify watches).
 * The run starts without sync (EDITS_REPO): `dstack sync NAME --json` turns it on.
 */
export async function editsReachTheInstance(r: SyncRun): Promise<void> {
  const { sb, name, repo } = r;
  const want = () => localTree(sb, repo, (p) => p.startsWith('secret/'));
  const pid = await daemonPid(sb);
  const watchesBefore = inotifyWatches(pid);
  const started = JSON.parse((await mustDstack(sb, ['sync', name, '--json'])).stdout);
  expect(started).toMatchObject({ runName: name, repoDir: repo });
  await waitForSync(sb, name, (s) => s.state === 'watching', 'watching');
  expect(inotifyWatches(pid)).toBeGreaterThan(watchesBefore);

  const attach = new Terminal(sb, ['attach', name, '--no-logs']);
  try {
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

    await waitForRemoteTree(r, want);
    const remote = await remoteTree(r);
    expect(await remoteFile(r, 'modified.txt')).toBe('edited locally\n');
    expect(await remoteFile(r, 'new/dir/file.txt')).toBe('created\n');
    expect(remote.has('committed.txt')).toBe(false);
    expect(remote.has('untracked.txt')).toBe(false);
    expect(remote.get('renamed.txt')).toBeDefined();
    expect(remote.get('link-to-renamed')).toBe('link:renamed.txt');
    expect([...remote.keys()].filter((p) => p.startsWith('guide/'))).toEqual(['guide/a.md', 'guide/deep/b.md']);
    for (const p of ['sub/debug.log', 'x.globalskip', 'secret/key.txt', 'ignored.txt']) expect(remote.has(p), p).toBe(false);
    // Folders emptied by the rename are gone; .git was never sent; the mode came along.
    const dirs = await ssh(sb, name, `cd ${r.dir} && test ! -e docs && test ! -e .git && stat -c %a renamed.txt`);
    expect(dirs.stdout.trim()).toBe('755');
    // The attach stream showed the batches as they went.
    await attach.expect(/Synced \d+ files?: /);
  } finally {
    attach.kill();
  }

  // ps -v: the sync under the run's status.
  const ps = (await mustDstack(sb, ['ps', '-v'])).stdout;
  expect(ps).toContain('(sync: watching)');
  expect(ps).toMatch(/\(last synced (now|\d+ sec ago)\)/);
  const status = await syncStatus(sb, name);
  expect(status).toMatchObject({ state: 'watching', remoteDir: r.dir });
  expect(status.conflicts ?? []).toEqual([]);

  // --stop: the watcher closes, and the instance keeps what it has.
  const stopped = await mustDstack(sb, ['sync', name, '--stop']);
  expect(stopped.stdout).toBe(`Sync of ${name} stopped; the instance keeps what it has\n`);
  expect(await syncStatus(sb, name)).toMatchObject({ state: 'off', error: 'stopped by the user' });
  expect(inotifyWatches(pid)).toBe(watchesBefore);
  expect(await remoteFile(r, 'new/dir/file.txt')).toBe('created\n');
  expect((await mustDstack(sb, ['ps', '-v'])).stdout).not.toContain('(sync:');

  // On again: a reconcile brings what changed while it was off.
  writeFileSync(join(repo, 'while-off.txt'), 'made while sync was off\n');
  await mustDstack(sb, ['sync', name, '--json']);
  await waitForRemoteFile(r, 'while-off.txt', 'made while sync was off\n');
  await waitForRemoteTree(r, want);

  // The run ends: sync turns off by itself and no watcher is left.
  await mustDstack(sb, ['stop', name, '-y']);
  // `dstack stop` keeps a container (the run is `stopped`: stop and resume with state); a host-mode
  // job (a fleet host here) keeps nothing and its run is terminated.
  expect(await syncStatus(sb, name)).toMatchObject({
    state: 'off',
    error: r.dir === '/workflow' ? 'the run stopped' : 'the run terminated',
  });
  expect(inotifyWatches(pid)).toBe(watchesBefore);
  expect(existsSync(join(repo, '.git', 'sync-test', 'never.txt'))).toBe(true);
}

async function remoteWrite(r: SyncRun, path: string, content: string): Promise<void> {
  const res = await ssh(r.sb, r.name, `printf '%s' '${content}' > ${r.dir}/${path}`);
  expect(res.code, res.stderr).toBe(0);
}

/**
 * Changes made on the instance are never overwritten; which copy ends up where, both ways (see the
 * README's table); each conflict reported in the attach stream, the run's log, `dstack sync NAME` and
 * `dstack ps -v`; an instance-only edit and an instance delete survive a daemon restart's reconcile.
 */
export async function conflictsBothWays(r: SyncRun): Promise<void> {
  const { sb, name, repo } = r;
  await waitForSync(sb, name, (s) => s.state === 'watching', 'watching');
  let follow = new Terminal(sb, ['sync', name]);
  try {
    await follow.expect('Following its events');

    // 1. Edited on the instance, then locally.
    await remoteWrite(r, 'committed.txt', 'edited on the instance\n');
    writeFileSync(join(repo, 'committed.txt'), 'edited locally\n');
    await waitForRemoteFile(r, 'committed.txt', 'edited locally\n');
    expect(await remoteFile(r, 'committed.txt.remote-conflict')).toBe('edited on the instance\n');
    await follow.expect(
      "Sync conflict: committed.txt changed on the instance since it was last synced; the instance's version is kept as committed.txt.remote-conflict, committed.txt has your local version",
    );
    // Again on the same path: the first kept version stays, the second goes beside it.
    await remoteWrite(r, 'committed.txt', 'second instance edit\n');
    writeFileSync(join(repo, 'committed.txt'), 'second local edit\n');
    await waitForRemoteFile(r, 'committed.txt', 'second local edit\n');
    expect(await remoteFile(r, 'committed.txt.remote-conflict.2')).toBe('second instance edit\n');
    expect(await remoteFile(r, 'committed.txt.remote-conflict')).toBe('edited on the instance\n');

    // 2. Edited on the instance only: later batches leave it alone.
    await remoteWrite(r, 'modified.txt', 'only the instance edited this\n');
    // 3. Deleted on the instance.
    expect((await ssh(sb, name, `rm ${r.dir}/untracked.txt`)).code).toBe(0);
    writeFileSync(join(repo, 'other.txt'), 'an unrelated local change\n');
    await waitForRemoteFile(r, 'other.txt', 'an unrelated local change\n');
    expect(await remoteFile(r, 'modified.txt')).toBe('only the instance edited this\n');
    expect(await remoteFile(r, 'untracked.txt')).toBeNull();

    // ... and through a daemon restart, whose reconcile sends the whole local tree.
    const before = await syncStatus(sb, name);
    const pid = await daemonPid(sb);
    await mustDstack(sb, ['daemon', 'stop']);
    follow.kill();
    const resumed = await waitForSync(sb, name, (s) => s.state === 'watching' && (s.batches ?? 0) > (before.batches ?? 0), 'resumed');
    expect(await daemonPid(sb)).not.toBe(pid);
    expect(resumed.conflicts).toHaveLength(2);
    expect(await remoteFile(r, 'modified.txt')).toBe('only the instance edited this\n');
    expect(await remoteFile(r, 'untracked.txt')).toBeNull();
    expect(await remoteFile(r, 'modified.txt.remote-conflict')).toBeNull();
    expect((await mustDstack(sb, ['logs', name])).stdout).toContain('Sync resumed after a daemon restart');

    // A deleted file comes back when it changes locally; nothing was lost, so no conflict.
    writeFileSync(join(repo, 'untracked.txt'), 'changed locally after the instance deleted it\n');
    await waitForRemoteFile(r, 'untracked.txt', 'changed locally after the instance deleted it\n');
    expect(await remoteFile(r, 'untracked.txt.remote-conflict')).toBeNull();

    // 4. Deleted locally after an edit on the instance.
    follow = new Terminal(sb, ['sync', name]);
    await follow.expect('Following its events');
    await remoteWrite(r, 'other.txt', 'the instance edited it\n');
    rmSync(join(repo, 'other.txt'));
    await waitForRemoteFile(r, 'other.txt.remote-conflict', 'the instance edited it\n');
    expect(await remoteFile(r, 'other.txt')).toBeNull();
    await follow.expect(
      "Sync conflict: other.txt changed on the instance since it was last synced; the instance's version is kept as other.txt.remote-conflict, other.txt is gone, as you deleted it locally",
    );
  } finally {
    follow.kill();
  }

  // Reported in `dstack sync NAME`, `dstack ps -v` and the run's log.
  const status = await mustDstack(sb, ['sync', name, '--status']);
  expect(status.stdout).toContain('  conflicts:   3 ');
  for (const line of [
    'committed.txt → committed.txt.remote-conflict (',
    'committed.txt → committed.txt.remote-conflict.2 (',
    'other.txt → other.txt.remote-conflict (',
  ]) {
    expect(status.stdout).toContain(line);
  }
  expect((await mustDstack(sb, ['ps', '-v'])).stdout).toContain('(3 conflicts)');
  expect((await mustDstack(sb, ['logs', name])).stdout.match(/Sync conflict: /g)).toHaveLength(3);
}

const SWITCH_FILES = 5000;

/** main with 5,000 files; `feature` changes 4,000, adds 500 and removes 500 (checked out back on main). */
export const BRANCHES_REPO: RunOptions = {
  async prepare(sb: Sandbox, repo: string) {
    const base: Record<string, string> = {};
    for (let i = 0; i < SWITCH_FILES; i++) base[`src/m${i % 50}/f${i}.py`] = `# main ${i}\n`;
    writeFiles(repo, base);
    await git(sb, repo, 'add', '-A');
    await git(sb, repo, 'commit', '-qm', 'main');
    await git(sb, repo, 'checkout', '-qb', 'feature');
    const feature: Record<string, string> = {};
    for (let i = 0; i < 4000; i++) feature[`src/m${i % 50}/f${i}.py`] = `# feature ${i}\n`;
    // A few past the packed size (sent in chunks), up to and past the size whose hashed bytes are kept to send.
    for (const [i, size] of [65_537, 300_000, 1 << 20, (1 << 20) + 1].entries())
      feature[`src/m${i % 50}/f${i}.py`] = `# feature ${i}\n`.padEnd(size, 'x');
    for (let i = 0; i < 500; i++) feature[`src/new${i % 10}/g${i}.py`] = `# added on feature ${i}\n`;
    writeFiles(repo, feature);
    await git(sb, repo, 'rm', '-q', ...Array.from({ length: 500 }, (_, i) => `src/m${(4500 + i) % 50}/f${4500 + i}.py`));
    await git(sb, repo, 'add', '-A');
    await git(sb, repo, 'commit', '-qm', 'feature');
    await git(sb, repo, 'checkout', '-q', '-');
  },
};

/** A branch switch touching 5,000 files is ONE batch of three agent round trips (logged, printed and asserted). */
export async function branchSwitchIsOneBatch(r: SyncRun): Promise<void> {
  const { sb, name, repo } = r;
  const want = () => localTree(sb, repo);
  await waitForSync(sb, name, (s) => s.state === 'watching' && !s.pending, 'watching');
  await waitForRemoteTree(r, want);
  const before = await syncStatus(sb, name);

  await git(sb, repo, 'checkout', '-q', 'feature');
  await waitForRemoteTree(r, want, 300_000);
  const after = await waitForSync(sb, name, (s) => s.state === 'watching' && !s.pending, 'watching');

  const batches = (after.batches ?? 0) - (before.batches ?? 0);
  const roundTrips = (after.roundTrips ?? 0) - (before.roundTrips ?? 0);
  console.log(`branch switch of ${SWITCH_FILES} files on ${name}: ${batches} batch(es), ${roundTrips} agent round trips`);
  expect(batches).toBe(1);
  expect(roundTrips).toBe(3);
  expect(after.lastBatchFiles).toBe(SWITCH_FILES);
  const log = readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8');
  expect(log).toMatch(
    new RegExp(
      `sync ${name}: delta of ${SWITCH_FILES} file\\(s\\): 4500 written, 500 removed, .*; 3 agent round trips \\(PutManifest, PutBlobs, CommitCode\\)`,
    ),
  );
}

/**
 * kill -9 of the daemon while a batch is on its way (the daemon announces a large one before it
 * goes), then edits, creates, deletes and renames while it is down: the next daemon resumes the sync
 * with a reconcile, the remote tree matches the local one (full listings with sha256s), and it watches again.
 */
export async function killMidSync(r: SyncRun): Promise<void> {
  const { sb, name, repo } = r;
  const want = () => localTree(sb, repo);
  await waitForSync(sb, name, (s) => s.state === 'watching', 'watching');
  const pid = await daemonPid(sb);
  const follow = new Terminal(sb, ['sync', name]);
  let sending: string;
  try {
    await follow.expect('Following its events');
    const big: Record<string, Buffer | string> = {};
    for (let i = 0; i < 40; i++) big[`data/blob${i}.bin`] = randomBytes(2 << 20);
    for (let i = 0; i < 300; i++) big[`small/s${i}.txt`] = `small ${i}\n`;
    writeFiles(repo, big);
    sending = await follow.expect(/Sync: sending \d+ files \([\d.]+ MB\)\.\.\./);
    process.kill(pid, 'SIGKILL');
  } finally {
    follow.kill();
  }
  await waitFor('the daemon to be gone', () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  });
  const matchedAtKill = (await remoteTree(r)).size === (await want()).size;
  console.log(`killed the daemon right after "${sending}"; the remote had every file by then: ${matchedAtKill}`);

  writeFileSync(join(repo, 'modified.txt'), 'edited while the daemon was down\n');
  writeFiles(repo, { 'while-down/new.txt': 'created while the daemon was down\n' });
  rmSync(join(repo, 'committed.txt'));
  renameSync(join(repo, 'small'), join(repo, 'small-renamed'));
  rmSync(join(repo, 'data', 'blob7.bin'));

  // Any command starts the daemon again; it resumes the sync with a reconcile.
  const resumed = await waitForSync(sb, name, (s) => s.state === 'watching', 'resumed');
  expect(await daemonPid(sb)).not.toBe(pid);
  expect(resumed.error ?? '').toBe('');
  await waitForRemoteTree(r, want);
  const remote = await remoteTree(r);
  expect(remote.has('committed.txt')).toBe(false);
  expect(remote.has('small/s1.txt')).toBe(false);
  expect(remote.has('small-renamed/s1.txt')).toBe(true);
  expect(remote.has('data/blob7.bin')).toBe(false);
  expect([...remote.keys()].filter((p) => p.includes('.remote-conflict'))).toEqual([]);
  expect((await mustDstack(sb, ['logs', name])).stdout).toContain('Sync resumed after a daemon restart');
  expect(readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8')).toMatch(new RegExp(`sync ${name}: reconcile of \\d+ file\\(s\\)`));

  writeFileSync(join(repo, 'after-restart.txt'), 'watched again\n');
  await waitForRemoteFile(r, 'after-restart.txt', 'watched again\n');
}
