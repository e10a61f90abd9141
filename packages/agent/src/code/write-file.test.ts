// writeFromBlob(Sync): the bytes, the exact mode whatever the umask, and a record that matches the
// file on disk, for a small blob (read and written) and one past SMALL_BLOB (copied by the kernel).
import { lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SMALL_BLOB, writeFromBlob, writeFromBlobSync } from './write-file';

const dir = mkdtempSync(join(tmpdir(), 'dstack-write-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const blobs = {
  empty: Buffer.alloc(0),
  small: Buffer.from('print("hi")\n'),
  large: Buffer.alloc(SMALL_BLOB + 4097, 7),
};
for (const [k, v] of Object.entries(blobs)) writeFileSync(join(dir, k), v, { mode: 0o600 });

describe.each([
  ['sync', async (b: string, d: string, m: number) => writeFromBlobSync(b, d, m)],
  ['async', writeFromBlob],
])('writeFromBlob (%s)', (name, write) => {
  it.each(Object.keys(blobs))('writes the %s blob with the exact mode, past a umask that would take bits away', async (k) => {
    const dest = join(dir, `${name}-${k}`);
    const old = process.umask(0o077);
    let got;
    try {
      got = await write(join(dir, k), dest, 0o775);
    } finally {
      process.umask(old);
    }
    expect(readFileSync(dest).equals(blobs[k as keyof typeof blobs])).toBe(true);
    const st = lstatSync(dest);
    expect(st.mode & 0o7777).toBe(0o775);
    expect(got).toEqual({ size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
  });
});

describe.each([
  ['sync', async (b: string, d: string, m: number) => writeFromBlobSync(b, d, m)],
  ['async', writeFromBlob],
])('writeFromBlob (%s) where something is already there', (name, write) => {
  it.each(['small', 'large'])('refuses it for a %s blob, and never writes through a planted link', async (k) => {
    const victim = join(dir, `${name}-${k}-victim`);
    writeFileSync(victim, 'not yours');
    const link = join(dir, `${name}-${k}-link`);
    symlinkSync(victim, link);
    await expect(write(join(dir, k), link, 0o644)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(victim, 'utf8')).toBe('not yours');
    const file = join(dir, `${name}-${k}-file`);
    writeFileSync(file, 'x');
    await expect(write(join(dir, k), file, 0o644)).rejects.toMatchObject({ code: 'EEXIST' });
  });
});
