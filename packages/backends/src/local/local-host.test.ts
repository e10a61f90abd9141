import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalHost } from './local-host';
import { resourcesFromHostInfo } from './local-backend';

const dir = mkdtempSync(join(tmpdir(), 'dstack-localhost-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('LocalHost', () => {
  const host = new LocalHost();

  it('runs commands through sh with stdin, and reports non-zero exits without throwing', async () => {
    const ok = await host.exec('read x; echo "got $x"; echo err >&2', { input: 'hello\n' });
    expect(ok).toEqual({ code: 0, stdout: 'got hello\n', stderr: 'err\n' });
    const bad = await host.exec('exit 3');
    expect(bad.code).toBe(3);
  });

  it('kills a command past its timeout', async () => {
    const res = await host.exec('sleep 5', { timeoutMs: 200 });
    expect(res.code).toBe(124);
  });

  it('uploads a stream atomically with the mode asked', async () => {
    const target = join(dir, 'sub', 'file.bin');
    await host.upload(Readable.from([Buffer.from('abc'), Buffer.from('def')]), target, 0o755);
    expect(readFileSync(target, 'utf8')).toBe('abcdef');
    expect(statSync(target).mode & 0o777).toBe(0o755);
  });

  it('opens a stream to a unix socket, and fails for a missing one', async () => {
    const path = join(dir, 's.sock');
    const srv = createServer((c) => c.end('pong'));
    await new Promise<void>((r) => srv.listen(path, r));
    const sock = await host.openUnixSocket(path);
    const data = await new Promise<string>((r) => {
      let s = '';
      sock.on('data', (d) => (s += d));
      sock.on('end', () => r(s));
    });
    expect(data).toBe('pong');
    srv.close();
    await expect(host.openUnixSocket(join(dir, 'missing.sock'))).rejects.toThrow(/ENOENT/);
  });
});

describe('local offer resources', () => {
  it('come from the host info, GPUs grouped by model', () => {
    const gpu = {
      index: 0,
      vendor: 'nvidia',
      name: 'H200',
      memoryMib: 143771,
      uuid: '',
      pciBusId: '',
      computeCapability: '9.0',
      driverVersion: '',
    };
    const res = resourcesFromHostInfo({
      hostname: 'h',
      os: '',
      arch: 'x86_64',
      cpus: 16,
      memoryBytes: 128 * 1024 ** 3,
      diskTotalBytes: 500 * 1024 ** 3,
      diskFreeBytes: 0,
      gpus: [gpu, { ...gpu, index: 1 }],
      docker: false,
      dockerVersion: '',
      agentVersion: '',
      kernel: '',
    });
    expect(res).toEqual({
      cpus: 16,
      cpuArch: 'x86',
      memoryGb: 128,
      diskGb: 500,
      spot: false,
      gpus: [{ vendor: 'nvidia', name: 'H200', memoryGb: 140.4, count: 2 }],
    });
  });
});
