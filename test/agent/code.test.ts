// Code upload by manifest: only missing blobs travel, a second upload sends nothing, modes and links
// are kept, escaping paths are refused, and files changed on the instance are never overwritten.
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as grpcStatus } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobState, type ManifestEntry } from '@dstack/core/gen/agent';
import { startAgent, uniqueId, type AgentProcess } from './agent';
import { chunks, manifest, sha, type FileSpec } from './trees';

describe('code upload by manifest', () => {
  let agent: AgentProcess;
  let cleanup: () => Promise<void>;
  let jobId: string;
  let wd: string;

  async function upload(tree: Record<string, FileSpec>, opts: { full?: boolean; removed?: string[] } = {}) {
    const m = await agent.putManifest({ jobId, full: opts.full ?? true, entries: manifest(tree), removed: opts.removed ?? [] });
    const sent = m.missing.length ? await agent.putBlobs(chunks(m.uploadId, tree, m.missing)) : { blobs: 0, bytes: 0 };
    const commit = await agent.commitCode(m.uploadId);
    return { manifest: m, sent, commit };
  }

  beforeAll(async () => {
    ({ agent, cleanup } = await startAgent({ DOCKER_HOST: inject('dockerHost') }));
    jobId = uniqueId('code');
    await agent.submit({ jobId, runtime: 'host', expectCode: true, init: ['cat hello.txt'] });
    await agent.waitState(jobId, JobState.JOB_STATE_WAITING_CODE);
    wd = join(agent.dataDir, 'jobs', jobId, 'workflow');
  });
  afterAll(async () => cleanup?.());

  const tree: Record<string, FileSpec> = {
    'hello.txt': { content: 'hello from the repo\n' },
    'bin/run.sh': { content: '#!/bin/sh\necho run\n', mode: 0o755 },
    'docs/copy.txt': { content: 'hello from the repo\n' }, // same blob as hello.txt
    'link-to-hello': { link: 'hello.txt' },
    'empty-dir': { dir: true },
    'a/b/c/deep.txt': { content: 'deep\n', mode: 0o600 },
  };

  it('asks only for the blobs it lacks, writes files with their modes, and the job goes on', async () => {
    const { manifest: m, sent, commit } = await upload(tree);
    expect(new Set(m.missing)).toEqual(new Set([sha('hello from the repo\n'), sha('#!/bin/sh\necho run\n'), sha('deep\n')]));
    expect(m.missingBytes).toBe(20 + 19 + 5);
    expect(sent).toEqual({ blobs: 3, bytes: 44 });
    expect(commit).toMatchObject({ written: 6, removed: 0, conflicts: [] });

    expect(readFileSync(join(wd, 'hello.txt'), 'utf8')).toBe('hello from the repo\n');
    expect(lstatSync(join(wd, 'bin/run.sh')).mode & 0o777).toBe(0o755);
    expect(lstatSync(join(wd, 'hello.txt')).mode & 0o777).toBe(0o644);
    expect(lstatSync(join(wd, 'a/b/c/deep.txt')).mode & 0o777).toBe(0o600);
    expect(readlinkSync(join(wd, 'link-to-hello'))).toBe('hello.txt');
    expect(lstatSync(join(wd, 'empty-dir')).isDirectory()).toBe(true);

    const job = await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
    expect(job.status!.codeReady).toBe(true);
    expect(await agent.logText(jobId)).toContain('hello from the repo\n');
  });

  it('sends nothing when the same tree is uploaded again', async () => {
    const { manifest: m, commit } = await upload(tree);
    expect(m.missing).toEqual([]);
    expect(m.missingBytes).toBe(0);
    expect(commit).toMatchObject({ written: 0, removed: 0, conflicts: [] });
  });

  it('keeps a file changed on the instance as .remote-conflict instead of overwriting it', async () => {
    writeFileSync(join(wd, 'hello.txt'), 'edited on the instance\n');
    writeFileSync(join(wd, 'new.txt'), 'made on the instance\n');
    const next = { ...tree, 'hello.txt': { content: 'hello v2\n' }, 'new.txt': { content: 'new in the repo\n' } };
    const { manifest: m, commit } = await upload(next);
    expect(new Set(m.missing)).toEqual(new Set([sha('hello v2\n'), sha('new in the repo\n')]));
    expect(commit.conflicts).toEqual([
      {
        path: 'hello.txt',
        keptAs: 'hello.txt.remote-conflict',
        localSha256: sha('hello v2\n'),
        remoteSha256: sha('edited on the instance\n'),
      },
      {
        path: 'new.txt',
        keptAs: 'new.txt.remote-conflict',
        localSha256: sha('new in the repo\n'),
        remoteSha256: sha('made on the instance\n'),
      },
    ]);
    expect(readFileSync(join(wd, 'hello.txt'), 'utf8')).toBe('hello v2\n');
    expect(readFileSync(join(wd, 'hello.txt.remote-conflict'), 'utf8')).toBe('edited on the instance\n');
    expect(readFileSync(join(wd, 'new.txt.remote-conflict'), 'utf8')).toBe('made on the instance\n');
    // An unchanged synced file is updated in place, with no conflict.
    const third = { ...next, 'bin/run.sh': { content: '#!/bin/sh\necho run v2\n', mode: 0o755 } };
    const r = await upload(third);
    expect(r.commit).toMatchObject({ written: 1, conflicts: [] });
  });

  it('removes files dropped from a full manifest, and those in `removed` of a delta, unless changed here', async () => {
    const base: Record<string, FileSpec> = {
      ...tree,
      'hello.txt': { content: 'hello v2\n' },
      'new.txt': { content: 'new in the repo\n' },
      'bin/run.sh': { content: '#!/bin/sh\necho run v2\n', mode: 0o755 },
    };
    const { 'docs/copy.txt': _dropped, ...withoutCopy } = base;
    const r = await upload(withoutCopy);
    expect(r.commit.removed).toBeGreaterThanOrEqual(1);
    expect(existsSync(join(wd, 'docs/copy.txt'))).toBe(false);

    writeFileSync(join(wd, 'a/b/c/deep.txt'), 'changed here\n');
    const d = await upload({}, { full: false, removed: ['a/b/c/deep.txt', 'new.txt'] });
    expect(d.commit.removed).toBe(1);
    expect(existsSync(join(wd, 'new.txt'))).toBe(false);
    expect(d.commit.conflicts).toEqual([
      { path: 'a/b/c/deep.txt', keptAs: 'a/b/c/deep.txt.remote-conflict', localSha256: '', remoteSha256: sha('changed here\n') },
    ]);
    expect(readFileSync(join(wd, 'a/b/c/deep.txt.remote-conflict'), 'utf8')).toBe('changed here\n');
  });

  it('refuses paths that escape the code dir, with an error naming the path, and writes nothing', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'dstack-outside-'));
    const cases: [ManifestEntry[], RegExp][] = [
      [manifest({ '../evil.txt': { content: 'x' } }), /path "\.\.\/evil\.txt" escapes the code dir: it contains "\.\."/],
      [manifest({ [join(outside, 'evil.txt')]: { content: 'x' } }), /escapes the code dir: it is absolute/],
      [
        manifest({ sneaky: { link: outside }, 'sneaky/evil.txt': { content: 'x' } }),
        /path "sneaky\/evil\.txt" escapes the code dir: "sneaky" is a symlink in the manifest/,
      ],
    ];
    for (const [entries, message] of cases) {
      const err = await agent.putManifest({ jobId, full: false, entries, removed: [] }).catch((e) => e);
      expect(err.code).toBe(grpcStatus.INVALID_ARGUMENT);
      expect(err.details).toMatch(message);
    }
    // A symlink made on the instance is not a way out either.
    symlinkSync(outside, join(wd, 'made-here'));
    const m = await agent.putManifest({ jobId, full: false, entries: manifest({ 'made-here/evil.txt': { content: 'x' } }), removed: [] });
    if (m.missing.length) await agent.putBlobs(chunks(m.uploadId, { f: { content: 'x' } }, m.missing));
    const err = await agent.commitCode(m.uploadId).catch((e) => e);
    expect(err.code).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(err.details).toMatch(/path "made-here\/evil\.txt" escapes the code dir: "made-here" is a symlink/);
    expect(existsSync(join(outside, 'evil.txt'))).toBe(false);
    rmSync(outside, { recursive: true, force: true });
  });

  it('verifies blob hashes and refuses a commit whose blobs never came', async () => {
    const m = await agent.putManifest({ jobId, full: false, entries: manifest({ 'x.txt': { content: 'the real content' } }), removed: [] });
    const bad = await agent
      .putBlobs([{ uploadId: m.uploadId, sha256: sha('the real content'), data: Buffer.from('something else'), last: true, blobs: [] }])
      .catch((e) => e);
    expect(bad.code).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(bad.details).toContain(`blob ${sha('the real content')}: its content hashes to ${sha('something else')}`);
    const commit = await agent.commitCode(m.uploadId).catch((e) => e);
    expect(commit.code).toBe(grpcStatus.FAILED_PRECONDITION);
    expect(commit.details).toMatch(/1 blob\(s\) were never sent/);
    expect(existsSync(join(wd, 'x.txt'))).toBe(false);
    const unknown = await agent.commitCode('00000000-0000-0000-0000-000000000000').catch((e) => e);
    expect(unknown.code).toBe(grpcStatus.NOT_FOUND);
  });

  it('takes a manifest of 25,000 entries in one message', async () => {
    const entries: ManifestEntry[] = Array.from({ length: 25_000 }, (_, i) => ({
      path: `big/${'d'.repeat(150)}/file-${i}.txt`,
      mode: 0o644,
      size: 10,
      sha256: sha(`content ${i}`),
      symlinkTarget: '',
      directory: false,
    }));
    const m = await agent.putManifest({ jobId, full: false, entries, removed: [] });
    expect(m.missing).toHaveLength(25_000);
    expect(m.missingBytes).toBe(250_000);
  });
});

// Live sync (issue 6) leans on two rules: a reconcile sends the whole local tree but writes only
// what changed locally since the last sync, and a kept instance version is never replaced by a later one.
describe('code upload for live sync', () => {
  let agent: AgentProcess;
  let cleanup: () => Promise<void>;
  let jobId: string;
  let wd: string;

  async function upload(tree: Record<string, FileSpec>, opts: { full?: boolean; removed?: string[]; localChangesOnly?: boolean } = {}) {
    const m = await agent.putManifest({
      jobId,
      full: opts.full ?? true,
      entries: manifest(tree),
      removed: opts.removed ?? [],
      localChangesOnly: opts.localChangesOnly,
    });
    if (m.missing.length) await agent.putBlobs(chunks(m.uploadId, tree, m.missing));
    return agent.commitCode(m.uploadId);
  }
  const read = (p: string) => readFileSync(join(wd, p), 'utf8');

  beforeAll(async () => {
    ({ agent, cleanup } = await startAgent({ DOCKER_HOST: inject('dockerHost') }));
    jobId = uniqueId('sync');
    await agent.submit({ jobId, runtime: 'host', expectCode: true, init: [] });
    await agent.waitState(jobId, JobState.JOB_STATE_WAITING_CODE);
    wd = join(agent.dataDir, 'jobs', jobId, 'workflow');
  });
  afterAll(async () => cleanup?.());

  it('with local_changes_only writes local changes and removals but leaves instance edits of unchanged files alone', async () => {
    const base: Record<string, FileSpec> = {
      'same.txt': { content: 'same\n' },
      'edited-there.txt': { content: 'v1\n' },
      'deleted-there.txt': { content: 'v1\n' },
      'changed-here.txt': { content: 'v1\n' },
      'both.txt': { content: 'v1\n' },
      'gone-here.txt': { content: 'v1\n' },
    };
    expect(await upload(base)).toMatchObject({ written: 6, conflicts: [] });
    writeFileSync(join(wd, 'edited-there.txt'), 'edited on the instance\n');
    rmSync(join(wd, 'deleted-there.txt'));
    writeFileSync(join(wd, 'both.txt'), 'both: instance\n');

    const { 'gone-here.txt': _gone, ...rest } = base;
    const local = { ...rest, 'changed-here.txt': { content: 'v2\n' }, 'both.txt': { content: 'both: local\n' } };
    const commit = await upload(local, { localChangesOnly: true });
    expect(commit.written).toBe(2);
    expect(commit.removed).toBe(1);
    expect(commit.conflicts).toEqual([
      { path: 'both.txt', keptAs: 'both.txt.remote-conflict', localSha256: sha('both: local\n'), remoteSha256: sha('both: instance\n') },
    ]);
    expect(read('edited-there.txt')).toBe('edited on the instance\n');
    expect(existsSync(join(wd, 'deleted-there.txt'))).toBe(false);
    expect(read('changed-here.txt')).toBe('v2\n');
    expect(read('both.txt')).toBe('both: local\n');
    expect(read('both.txt.remote-conflict')).toBe('both: instance\n');
    expect(existsSync(join(wd, 'gone-here.txt'))).toBe(false);

    // The same tree again: nothing to do, and still no conflict for the instance's edit.
    expect(await upload(local, { localChangesOnly: true })).toMatchObject({ written: 0, removed: 0, conflicts: [] });
    // A plain full manifest (apply) treats that edit as a conflict, as before.
    const plain = await upload(local);
    expect(plain.conflicts.map((c) => c.path).sort()).toEqual(['edited-there.txt']);
  });

  it('never replaces a kept instance version: a second conflict on the same path is kept beside the first', async () => {
    await upload({ 'twice.txt': { content: 'v1\n' } }, { full: false });
    writeFileSync(join(wd, 'twice.txt'), 'instance edit 1\n');
    const first = await upload({ 'twice.txt': { content: 'local 2\n' } }, { full: false });
    expect(first.conflicts.map((c) => c.keptAs)).toEqual(['twice.txt.remote-conflict']);
    writeFileSync(join(wd, 'twice.txt'), 'instance edit 2\n');
    const second = await upload({ 'twice.txt': { content: 'local 3\n' } }, { full: false });
    expect(second.conflicts.map((c) => c.keptAs)).toEqual(['twice.txt.remote-conflict.2']);
    writeFileSync(join(wd, 'twice.txt'), 'instance edit 3\n');
    const removal = await upload({}, { full: false, removed: ['twice.txt'] });
    expect(removal.conflicts.map((c) => c.keptAs)).toEqual(['twice.txt.remote-conflict.3']);
    expect(read('twice.txt.remote-conflict')).toBe('instance edit 1\n');
    expect(read('twice.txt.remote-conflict.2')).toBe('instance edit 2\n');
    expect(read('twice.txt.remote-conflict.3')).toBe('instance edit 3\n');
    expect(existsSync(join(wd, 'twice.txt'))).toBe(false);
  });
});
