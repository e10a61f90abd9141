// What changed in a code dir since the agent wrote it, and reading those files back, never through a
// link the job planted.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CodeFileChunk, ManifestEntry } from '@dstack/core/gen/agent';
import { BlobStore } from './blobs';
import { listCodeChanges, readCodeFiles } from './changes';
import { mergeCommit, type SyncedTree } from './sync';

const dir = mkdtempSync(join(tmpdir(), 'dstack-changes-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** A code dir committed from `tree`, as the agent writes one. */
async function committed(name: string, tree: Record<string, string>): Promise<{ wd: string; synced: SyncedTree }> {
  const blobs = new BlobStore(join(dir, name, 'blobs'));
  const wd = join(dir, name, 'wd');
  const synced: SyncedTree = {};
  const entries: ManifestEntry[] = Object.entries(tree).map(([path, content]) => {
    const w = blobs.writer(sha(content));
    w.write(Buffer.from(content));
    w.finish();
    return { path, mode: 0o644, size: content.length, sha256: sha(content), symlinkTarget: '', directory: false };
  });
  await mergeCommit(wd, blobs, synced, { full: true, entries, removed: [] });
  return { wd, synced };
}

async function all(gen: AsyncGenerator<CodeFileChunk>): Promise<CodeFileChunk[]> {
  const out: CodeFileChunk[] = [];
  for await (const c of gen) out.push(c);
  return out;
}

describe('listCodeChanges', () => {
  it('lists edits, new files, deletes and links, and nothing for what the agent wrote', async () => {
    const { wd, synced } = await committed('list', { 'a.txt': 'a', 'd/b.txt': 'b', 'gone.txt': 'g', 'same.txt': 's' });
    expect(await listCodeChanges(wd, synced)).toEqual([]);
    writeFileSync(join(wd, 'a.txt'), 'edited');
    writeFileSync(join(wd, 'd/new.txt'), 'new');
    unlinkSync(join(wd, 'gone.txt'));
    symlinkSync('/etc/passwd', join(wd, 'link'));
    // Rewritten with the same bytes: not a change.
    writeFileSync(join(wd, 'same.txt'), 's');
    mkdirSync(join(wd, '.git'));
    writeFileSync(join(wd, '.git/HEAD'), 'ref');
    const changes = await listCodeChanges(wd, synced);
    expect(changes.map((c) => [c.path, c.change, c.kind])).toEqual([
      ['a.txt', 'modified', 'file'],
      ['d/new.txt', 'added', 'file'],
      ['gone.txt', 'deleted', ''],
      ['link', 'added', 'link'],
    ]);
    expect(changes[0]).toMatchObject({ sha256: sha('edited'), syncedSha256: sha('a'), size: 6 });
    expect(changes[3].symlinkTarget).toBe('/etc/passwd');
  });

  it('does not enter a folder the job swapped for a link', async () => {
    const { wd, synced } = await committed('swap', { 'd/b.txt': 'b' });
    rmSync(join(wd, 'd'), { recursive: true });
    symlinkSync('/etc', join(wd, 'd'));
    const changes = await listCodeChanges(wd, synced);
    expect(changes.map((c) => [c.path, c.change, c.kind])).toEqual([
      ['d', 'added', 'link'],
      ['d/b.txt', 'deleted', ''],
    ]);
  });
});

describe('readCodeFiles', () => {
  it('sends a file whole with its hash and mode, and refuses links and escapes', async () => {
    const { wd } = await committed('read', { 'a.txt': 'a' });
    const big = Buffer.alloc((1 << 20) + 5, 7);
    writeFileSync(join(wd, 'big.bin'), big, { mode: 0o755 });
    symlinkSync('/etc/passwd', join(wd, 'link'));
    mkdirSync(join(wd, 'sub'));
    symlinkSync('/etc', join(wd, 'via'));
    const chunks = await all(readCodeFiles(wd, ['a.txt', 'big.bin', 'link', 'via/passwd', '../x', 'missing', 'sub']));
    const a = chunks.filter((c) => c.path === 'a.txt');
    expect(a).toEqual([{ path: 'a.txt', data: Buffer.from('a'), last: true, sha256: sha('a'), mode: 0o644, error: '' }]);
    const b = chunks.filter((c) => c.path === 'big.bin');
    expect(b.map((c) => c.last)).toEqual([false, true]);
    expect(Buffer.concat(b.map((c) => c.data)).equals(big)).toBe(true);
    expect(b[1]).toMatchObject({ sha256: createHash('sha256').update(big).digest('hex'), mode: 0o755 });
    const errors = Object.fromEntries(chunks.filter((c) => c.error).map((c) => [c.path, c.error]));
    expect(errors.link).toMatch(/link/);
    expect(errors['via/passwd']).toBeTruthy();
    expect(errors['../x']).toMatch(/escapes/);
    expect(errors.missing).toMatch(/gone/);
    expect(errors.sub).toMatch(/folder/);
    expect(chunks.filter((c) => c.data.length && c.path !== 'a.txt' && c.path !== 'big.bin')).toEqual([]);
  });
});
