// What an SshHost must do on a real sshd host, as one suite run for a direct host (ssh-host.test.ts)
// and for a host behind a jump host (jump.test.ts): exec, atomic upload (plain and gzip'd), unix
// sockets on the host, gRPC through a bridged socket, and the host probes.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, statSync, writeFileSync } from 'node:fs';
import { arch } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { expect, it } from 'vitest';
import { canSudo, detectArch, fileSha256, hasSystemd, homeDir } from '../../packages/backends/src/host-probe';
import { bridgeUnixSocket, SshError, type SshHost } from '../../packages/backends/src/ssh-client/index';
import type { TestHost } from '../harness/ssh-hosts';
import { waitFor } from '../harness/util';
import { echoClient, startEchoServer } from './grpc-echo';

export interface SuiteContext {
  conn: SshHost;
  host: TestHost;
  /** A local scratch directory. */
  dir: string;
}

/** A file of `size` random bytes and its sha256, made once per suite. */
export function randomFile(path: string, size: number): string {
  const hash = createHash('sha256');
  const chunk = 1 << 20;
  const parts: Buffer[] = [];
  for (let off = 0; off < size; off += chunk) {
    const b = randomBytes(Math.min(chunk, size - off));
    hash.update(b);
    parts.push(b);
  }
  writeFileSync(path, Buffer.concat(parts));
  return hash.digest('hex');
}

async function hostOut(host: TestHost, command: string): Promise<string> {
  const res = await host.exec(command);
  if (res.code !== 0) throw new Error(`on ${host.name}: ${command}: ${res.stderr}`);
  return res.stdout.trim();
}

const ECHO_SERVER = `
import os, socket, sys, threading
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX)
s.bind(path + '.tmp'); os.rename(path + '.tmp', path); s.listen()
def serve(c):
    while True:
        d = c.recv(65536)
        if not d: break
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

function readAll(stream: NodeJS.ReadableStream, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    stream.on('data', (d: Buffer) => {
      parts.push(d);
      n += d.length;
      if (n >= bytes) resolve(Buffer.concat(parts));
    });
    stream.on('error', reject);
    stream.on('close', () => reject(new Error(`stream closed after ${n} of ${bytes} bytes`)));
  });
}

export function hostConnectionSuite(ctx: () => SuiteContext): void {
  it('runs commands on the host through sh -c, with exit codes, stderr and stdin', async () => {
    const { conn, host } = ctx();
    const res = await conn.exec('echo out; echo "err $0" >&2; exit 3');
    expect(res).toEqual({ code: 3, stdout: 'out\n', stderr: 'err /bin/sh\n' });
    // It ran on the host: the host's address is on one of its interfaces.
    expect((await conn.exec('ip -4 -o addr')).stdout).toContain(`inet ${host.address}/`);
    const input = randomBytes(3 << 20).toString('base64');
    const cat = await conn.exec('cat | sha256sum', { input });
    expect(cat.stdout.slice(0, 64)).toBe(createHash('sha256').update(input).digest('hex'));
    // Without input the command sees end of file at once instead of waiting for it.
    expect((await conn.exec('wc -c')).stdout.trim()).toBe('0');
    expect((await conn.exec('kill -TERM $$')).code).toBe(143);
    // The command reaches sh as written: quotes, $ and backquotes are the remote shell's to read.
    expect((await conn.exec("printf '%s|' \"it's\" '$HOME' '`x`' \"$((6*7))\"")).stdout).toBe("it's|$HOME|`x`|42|");
  });

  it('runs more commands at once than sshd allows sessions per connection', async () => {
    const { conn } = ctx();
    const results = await Promise.all(Array.from({ length: 25 }, (_, i) => conn.exec(`sleep 0.2; echo ${i}`)));
    expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 25 }, (_, i) => String(i)));
  });

  it('ends a command that overruns its timeout, with everything it started', async () => {
    const { conn, host } = ctx();
    const secs = `299.${Math.floor(Math.random() * 1e6)}`; // a sleep no one else runs
    const res = await conn.exec(`echo started; sleep ${secs} & sleep ${secs}; echo finished`, { timeoutMs: 1000 });
    // As LocalHost and timeout(1) answer: 124, and what it printed before.
    expect(res).toEqual({ code: 124, stdout: 'started\n', stderr: 'timed out after 1000 ms' });
    // More timed-out commands at once than there are session slots: each one's kill still gets through.
    const many = await Promise.all(Array.from({ length: 12 }, () => conn.exec(`sleep ${secs}`, { timeoutMs: 500 })));
    expect(many.map((r) => r.code)).toEqual(Array(12).fill(124));
    // `[2]99...` keeps pgrep from finding the shell that runs it.
    await waitFor(
      'the timed-out commands to be gone',
      async () => !(await host.exec(`pgrep -f "sleep [2]${secs.slice(1)}"`)).stdout.trim(),
      {
        timeoutMs: 30_000,
      },
    );
    expect((await conn.exec('echo ok', { timeoutMs: 30_000 })).stdout).toBe('ok\n');
  });

  it('uploads 50 MB plain and gzip-compressed: right bytes, right mode, no temp files', async () => {
    const { conn, host, dir } = ctx();
    const local = join(dir, 'big.bin');
    const sha = randomFile(local, 50 << 20);
    await conn.upload(createReadStream(local), '/root/up/plain.bin', 0o755);
    await conn.upload(createReadStream(local).pipe(createGzip({ level: 1 })), '/root/up/zipped.bin', 0o600, { gunzip: true });
    const listing = await hostOut(
      host,
      'cd /root/up && sha256sum plain.bin zipped.bin && stat -c "%n %a %s" plain.bin zipped.bin && ls -A',
    );
    expect(listing.split('\n')).toEqual([
      `${sha}  plain.bin`,
      `${sha}  zipped.bin`,
      `plain.bin 755 ${50 << 20}`,
      `zipped.bin 600 ${50 << 20}`,
      'plain.bin',
      'zipped.bin',
    ]);
    expect(await fileSha256(conn, '/root/up/zipped.bin')).toBe(sha);
    // Replacing a file in use: the old one is renamed over, not written into.
    await conn.upload(Readable.from([Buffer.from('v2\n')]), '/root/up/plain.bin', 0o644);
    expect(await hostOut(host, 'cat /root/up/plain.bin; stat -c %a /root/up/plain.bin')).toBe('v2\n644');
  });

  it('leaves the target untouched and no temp file when the source fails or the data is bad', async () => {
    const { conn, host } = ctx();
    await conn.upload(Readable.from([Buffer.from('old\n')]), '/root/keep/file', 0o644);
    const failing = new PassThrough();
    const pending = conn.upload(failing, '/root/keep/file');
    failing.write(randomBytes(1 << 20));
    setTimeout(() => failing.destroy(new Error('disk read error')), 100);
    await expect(pending).rejects.toThrow('disk read error');
    await expect(conn.upload(Readable.from([Buffer.from('not gzip at all')]), '/root/keep/file', 0o644, { gunzip: true })).rejects.toThrow(
      /upload to \/root\/keep\/file failed: .*gzip/,
    );
    expect(await hostOut(host, 'cat /root/keep/file; ls -A /root/keep')).toBe('old\nfile');
  });

  it('opens a byte stream to a unix socket on the host', async () => {
    const { conn, host } = ctx();
    writeFileSync(join(host.homeDir, 'echo.py'), ECHO_SERVER);
    // /root is private to the host: the socket exists only there.
    await hostOut(host, 'nohup /usr/bin/python3 /root/echo.py /root/echo.sock >/root/echo.log 2>&1 &');
    await waitFor('the echo server on the host', () => existsSync(join(host.homeDir, 'echo.sock')), { timeoutMs: 30_000 });
    expect(existsSync('/root/echo.sock')).toBe(false);
    const stream = await conn.openUnixSocket('/root/echo.sock');
    const payload = randomBytes(4 << 20);
    const back = readAll(stream, payload.length);
    stream.write(payload);
    expect((await back).equals(payload)).toBe(true);
    stream.destroy();
    const err = await conn.openUnixSocket('/root/nothing-here.sock').catch((e) => e);
    expect(err).toBeInstanceOf(SshError);
    expect(err.message).toContain(conn.description);
    expect(err.message).toContain('/root/nothing-here.sock');
    // The connection is still good after a refused channel.
    expect((await conn.exec('true')).code).toBe(0);
  });

  it('carries gRPC over a local socket bridged to a socket on the host', async () => {
    const { conn, host, dir } = ctx();
    // The server listens at the host's /root/agent.sock (its private /root, seen from here).
    const server = await startEchoServer(join(host.homeDir, 'agent.sock'));
    const bridge = await bridgeUnixSocket(conn, '/root/agent.sock', join(dir, 'bridge', 'agent.sock'));
    const client = echoClient(bridge.localPath);
    try {
      const big = randomBytes(2 << 20);
      expect((await client.echo(big)).equals(big)).toBe(true);
      expect(await client.repeat(Buffer.from('x'))).toEqual(Array.from({ length: 50 }, (_, i) => `${i}:x`));
      expect(statSync(bridge.localPath).mode & 0o777).toBe(0o600);
    } finally {
      client.close();
      await bridge.close();
      server.close();
    }
    expect(existsSync(bridge.localPath)).toBe(false);
  });

  it('answers the host probes', async () => {
    const { conn, host } = ctx();
    expect(await detectArch(conn)).toBe(arch());
    expect(await homeDir(conn)).toBe('/root');
    expect(await canSudo(conn)).toBe(true); // the test hosts log in as root
    expect(await hasSystemd(conn)).toBe((await host.exec('[ -d /run/systemd/system ]')).code === 0);
    expect(await fileSha256(conn, '/root/no/such/file')).toBe('');
    writeFileSync(join(host.homeDir, 'small'), 'abc');
    expect(await fileSha256(conn, '/root/small')).toBe(createHash('sha256').update('abc').digest('hex'));
  });
}
