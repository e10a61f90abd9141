// writeFromBlob and writeData: the bytes, the exact mode whatever the umask, the owner, and a record that
// matches the file on disk, for a small blob (read and written) and one past SMALL_BLOB (copied by
// the kernel), created through a held folder.
import { lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HeldDir, type Owner } from '../safe-fs/held-dir';
import { SMALL_BLOB, writeData, writeFromBlob } from './write-file';

const dir = mkdtempSync(join(tmpdir(), 'dstack-write-file-'));
const held = HeldDir.open(dir);
afterAll(() => {
  held.close();
  rmSync(dir, { recursive: true, force: true });
});
const asRoot = process.getuid?.() === 0;

const blobs = {
  empty: Buffer.alloc(0),
  small: Buffer.from('print("hi")\n'),
  large: Buffer.alloc(SMALL_BLOB + 4097, 7),
};
for (const [k, v] of Object.entries(blobs)) writeFileSync(join(dir, k), v, { mode: 0o600 });

describe.each([
  ['from memory (in the calling thread)', async (b: string, n: string, m: number, o?: Owner) => writeData(readFileSync(b), held, n, m, o)],
  ['async', (b: string, n: string, m: number, o?: Owner) => writeFromBlob(b, held, n, m, o)],
])('writeFromBlob (%s)', (name, write) => {
  it.each(Object.keys(blobs))('writes the %s blob with the exact mode, past a umask that would take bits away', async (k) => {
    const dest = join(dir, `${name}-${k}`);
    const old = process.umask(0o077);
    let got;
    try {
      got = await write(join(dir, k), `${name}-${k}`, 0o775);
    } finally {
      process.umask(old);
    }
    expect(readFileSync(dest).equals(blobs[k as keyof typeof blobs])).toBe(true);
    const st = lstatSync(dest);
    expect(st.mode & 0o7777).toBe(0o775);
    expect(got).toEqual({ size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
  });

  it.runIf(asRoot).each(['small', 'large'])('gives the %s file to the owner asked for', async (k) => {
    const got = await write(join(dir, k), `${name}-${k}-owned`, 0o640, { uid: 1234, gid: 2345 });
    const st = lstatSync(join(dir, `${name}-${k}-owned`));
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([1234, 2345, 0o640]);
    expect(got).toEqual({ size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
  });
});

describe.each([
  ['from memory (in the calling thread)', async (b: string, n: string, m: number) => writeData(readFileSync(b), held, n, m)],
  ['async', (b: string, n: string, m: number) => writeFromBlob(b, held, n, m)],
])('writeFromBlob (%s) where something is already there', (name, write) => {
  it.each(['small', 'large'])('refuses it for a %s blob, and never writes through a planted link', async (k) => {
    const victim = join(dir, `${name}-${k}-victim`);
    writeFileSync(victim, 'not yours');
    const link = join(dir, `${name}-${k}-link`);
    symlinkSync(victim, link);
    await expect(write(join(dir, k), `${name}-${k}-link`, 0o644)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(victim, 'utf8')).toBe('not yours');
    const file = join(dir, `${name}-${k}-file`);
    writeFileSync(file, 'x');
    await expect(write(join(dir, k), `${name}-${k}-file`, 0o644)).rejects.toMatchObject({ code: 'EEXIST' });
  });
});
