// The compressed agent: made once while the first upload reads it, then shared.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentBinaries } from './binaries';

const dir = mkdtempSync(join(tmpdir(), 'dstack-bin-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// Half random (incompressible), half zeros: several MB of gzip output, in many chunks.
const content = Buffer.concat([randomBytes(3 << 20), Buffer.alloc(3 << 20)]);
writeFileSync(join(dir, 'dstack-agent-linux-x64'), content);

async function collect(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('AgentBinaries.gzipStream', () => {
  it('gives the executable gzip-compressed, the same bytes to uploads at once and after', async () => {
    const bins = new AgentBinaries(dir);
    const bin = await bins.forArch('x64');
    const [a, b] = await Promise.all([collect(bins.gzipStream(bin)), collect(bins.gzipStream(bin))]);
    expect(gunzipSync(a).equals(content)).toBe(true);
    expect(b.equals(a)).toBe(true);
    expect((await collect(bins.gzipStream(bin))).equals(a)).toBe(true);
  });

  it('compresses anew for the others when the first upload stops reading midway', async () => {
    const bins = new AgentBinaries(dir);
    const bin = await bins.forArch('x64');
    const first = bins.gzipStream(bin);
    const waiting = collect(bins.gzipStream(bin));
    await new Promise<void>((resolve) => first.once('data', () => resolve()));
    first.destroy();
    expect(gunzipSync(await waiting).equals(content)).toBe(true);
  });
});
