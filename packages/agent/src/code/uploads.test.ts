// Uploads: where received blobs go (the store for an apply's full upload and for large files; memory
// for a live-sync batch's small files, written once at commit), and what an agent restart between
// PutBlobs and CommitCode costs (the commit names the blobs to send again).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BlobChunk, ManifestEntry } from '@dstack/core/gen/agent';
import { mergeCommit } from './sync';
import { INLINE_BLOB_MAX, Uploads } from './uploads';

const dir = mkdtempSync(join(tmpdir(), 'dstack-uploads-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Finishes the upload by merging it into `codeDir`, as a live-sync commit does. */
async function merge(u: Uploads, uploadId: string, codeDir: string) {
  return u.finish(u.get(uploadId), (upload, inline) => mergeCommit(codeDir, u.blobs, {}, { ...upload, inline }));
}

function setup(name: string) {
  const paths = { uploads: join(dir, name, 'uploads'), blobs: join(dir, name, 'blobs'), wd: join(dir, name, 'wd') };
  mkdirSync(paths.uploads, { recursive: true }); // made by the agent's data dir
  const make = () => new Uploads(paths.uploads, paths.blobs);
  return { paths, make };
}

function manifest(files: Record<string, Buffer>, claimed: Record<string, number> = {}): ManifestEntry[] {
  return Object.entries(files).map(([path, data]) => ({
    path,
    mode: 0o644,
    size: claimed[path] ?? data.length,
    sha256: sha(data),
    symlinkTarget: '',
    directory: false,
  }));
}

async function* chunks(uploadId: string, blobs: Buffer[], chunkSize = 64 * 1024): AsyncIterable<BlobChunk> {
  for (const b of blobs) {
    for (let off = 0; off === 0 || off < b.length; off += chunkSize) {
      yield { uploadId, sha256: sha(b), data: b.subarray(off, off + chunkSize), last: off + chunkSize >= b.length, blobs: [] };
    }
  }
}

describe('Uploads', () => {
  const small = Buffer.from('print("saved")\n');
  const large = Buffer.alloc(INLINE_BLOB_MAX + 1, 1);

  it("keeps a live-sync batch's small blobs out of the store, and writes them at commit", async () => {
    const { paths, make } = setup('inline');
    const u = make();
    const { uploadId, missing } = u.put({
      jobId: 'j',
      full: false,
      entries: manifest({ 'a.py': small, 'big.bin': large }),
      removed: [],
      localChangesOnly: false,
    });
    expect(missing.sort()).toEqual([sha(small), sha(large)].sort());
    expect(await u.receive(chunks(uploadId, [small, large]))).toEqual({ blobs: 2, bytes: small.length + large.length });
    expect(existsSync(u.blobs.path(sha(small)))).toBe(false);
    expect(existsSync(u.blobs.path(sha(large)))).toBe(true); // too large for memory
    await merge(u, uploadId, paths.wd);
    expect(readFileSync(join(paths.wd, 'a.py')).equals(small)).toBe(true);
    expect(readFileSync(join(paths.wd, 'big.bin')).equals(large)).toBe(true);
    expect(u.blobs.has(sha(small))).toBe(false);
  });

  it("stores an apply's (full) blobs, small ones too", async () => {
    const { paths, make } = setup('full');
    const u = make();
    const { uploadId } = u.put({ jobId: 'j', full: true, entries: manifest({ 'a.py': small }), removed: [], localChangesOnly: false });
    await u.receive(chunks(uploadId, [small]));
    expect(existsSync(u.blobs.path(sha(small)))).toBe(true);
    await merge(u, uploadId, paths.wd);
    expect(readFileSync(join(paths.wd, 'a.py')).equals(small)).toBe(true);
  });

  it('refuses a blob longer than its manifest entry says, or not matching its hash', async () => {
    const { make } = setup('bad');
    const u = make();
    const { uploadId } = u.put({
      jobId: 'j',
      full: false,
      entries: manifest({ 'a.py': small }, { 'a.py': 3 }),
      removed: [],
      localChangesOnly: false,
    });
    await expect(u.receive(chunks(uploadId, [small]))).rejects.toThrow(/longer than the 3 bytes its manifest entry says/);
    const other = Buffer.from('other');
    const { uploadId: id2 } = u.put({
      jobId: 'j',
      full: false,
      entries: manifest({ 'a.py': small }),
      removed: [],
      localChangesOnly: false,
    });
    const lying: AsyncIterable<BlobChunk> = (async function* () {
      yield {
        uploadId: id2,
        sha256: sha(small),
        data: Buffer.concat([other, Buffer.alloc(small.length - other.length)]),
        last: true,
        blobs: [],
      };
    })();
    await expect(u.receive(lying)).rejects.toThrow(/hashes to/);
  });

  it('after an agent restart between PutBlobs and CommitCode, the commit names the blobs to send again', async () => {
    const { paths, make } = setup('restart');
    const before = make();
    const { uploadId } = before.put({
      jobId: 'j',
      full: false,
      entries: manifest({ 'a.py': small }),
      removed: [],
      localChangesOnly: false,
    });
    await before.receive(chunks(uploadId, [small]));
    const after = make(); // the manifest is on disk, the in-memory blob is gone
    await expect(merge(after, uploadId, paths.wd)).rejects.toThrow(
      new RegExp(`1 blob\\(s\\) were never sent \\(first: ${sha(small)}\\); send them with PutBlobs`),
    );
    await after.receive(chunks(uploadId, [small]));
    await merge(after, uploadId, paths.wd);
    expect(readFileSync(join(paths.wd, 'a.py')).equals(small)).toBe(true);
  });

  it('takes whole blobs packed into one message, to memory or the store as for chunks, and refuses a mix', async () => {
    const { paths, make } = setup('packed');
    const u = make();
    const files = { 'a.py': small, 'b.py': Buffer.from('b\n'), 'big.bin': large };
    const { uploadId } = u.put({ jobId: 'j', full: false, entries: manifest(files), removed: [], localChangesOnly: false });
    const packed = async function* (): AsyncIterable<BlobChunk> {
      yield {
        uploadId,
        sha256: '',
        data: Buffer.alloc(0),
        last: false,
        blobs: Object.values(files).map((b) => ({ sha256: sha(b), data: b })),
      };
    };
    expect(await u.receive(packed())).toEqual({ blobs: 3, bytes: small.length + 2 + large.length });
    expect(existsSync(u.blobs.path(sha(small)))).toBe(false);
    expect(existsSync(u.blobs.path(sha(large)))).toBe(true);
    await merge(u, uploadId, paths.wd);
    for (const [p, b] of Object.entries(files)) expect(readFileSync(join(paths.wd, p)).equals(b)).toBe(true);

    const { uploadId: id2 } = u.put({
      jobId: 'j',
      full: true,
      entries: manifest({ 'c.py': Buffer.from('c') }),
      removed: [],
      localChangesOnly: false,
    });
    const mixed = async function* (): AsyncIterable<BlobChunk> {
      yield {
        uploadId: id2,
        sha256: sha(Buffer.from('c')),
        data: Buffer.from('c'),
        last: true,
        blobs: [{ sha256: sha(Buffer.from('c')), data: Buffer.from('c') }],
      };
    };
    await expect(u.receive(mixed())).rejects.toThrow(/packed blobs and a chunk/);
    const bad = async function* (): AsyncIterable<BlobChunk> {
      yield {
        uploadId: id2,
        sha256: '',
        data: Buffer.alloc(0),
        last: false,
        blobs: [{ sha256: sha(Buffer.from('c')), data: Buffer.from('not c') }],
      };
    };
    await expect(u.receive(bad())).rejects.toThrow(/hashes to/);
    expect(u.blobs.has(sha(Buffer.from('c')))).toBe(false);
  });

  it('masks modes to 0777 at intake: a 04755 file lands as 0755, a 02775 or 01777 folder without its bit', async () => {
    const { paths, make } = setup('modes');
    const u = make();
    const entries: ManifestEntry[] = [
      { ...manifest({ 'run.sh': small })[0], mode: 0o4755 },
      { ...manifest({ 'lib.py': small })[0], mode: 0o2644 },
      { path: 'shared', mode: 0o2775, size: 0, sha256: '', symlinkTarget: '', directory: true },
      { path: 'tmp', mode: 0o1777, size: 0, sha256: '', symlinkTarget: '', directory: true },
    ];
    const { uploadId } = u.put({ jobId: 'j', full: false, entries, removed: [], localChangesOnly: false });
    // What waits on disk for the commit (read again by an agent that restarted) is masked too.
    expect(
      make()
        .get(uploadId)
        .entries.map((e) => e.mode),
    ).toEqual([0o755, 0o644, 0o775, 0o777]);
    await u.receive(chunks(uploadId, [small]));
    await merge(u, uploadId, paths.wd);
    const mode = (p: string) => statSync(join(paths.wd, p)).mode & 0o7777;
    expect([mode('run.sh'), mode('lib.py'), mode('shared'), mode('tmp')]).toEqual([0o755, 0o644, 0o775, 0o777]);
  });
});
