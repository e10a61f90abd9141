// The server as the single executable runs it: bundled whole with esbuild, ssh2's sshcrypto.node
// left out, so ssh2 falls back to its pure-JS/OpenSSL crypto. OpenSSH's clients must still work,
// with every cipher we offer.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { docker } from '../harness/docker';
import { mustRun, run, tempDir, waitFor } from '../harness/util';
import { bundleServer } from './bundle-server.mjs';
import { makeKey, writeClientConfig } from './client';
import { requireAgentBinary } from '../agent/agent';
import type { ServeConfig } from './serve-entry';
import { JOB_ENV } from './suite';
import { SshTerminal } from './terminal';

describe('job SSH server without ssh2’s native addon', () => {
  const scratch = tempDir('agent-ssh-purejs');
  let container: string;
  let child: ChildProcess;
  let config: string;
  let info: { port: number; hostPublicKey: string; nativeCrypto: boolean };
  const serverLog: string[] = [];

  beforeAll(async () => {
    const bundle = join(scratch.path, 'serve.cjs');
    await bundleServer(bundle);
    container = (await docker(['run', '-d', '--network', 'host', inject('debianImage'), 'sleep', 'infinity'])).stdout.trim();
    const key = await makeKey(scratch.path, 'id_ed25519');
    const cfg: ServeConfig = {
      authorizedKeys: [key.publicKey],
      env: JOB_ENV,
      workingDir: '/root',
      containerId: container,
      sftpHelper: requireAgentBinary(),
    };
    child = spawn(process.execPath, [bundle, JSON.stringify(cfg)], {
      cwd: scratch.path,
      env: { ...process.env, DOCKER_HOST: inject('dockerHost') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr!.on('data', (d: Buffer) => serverLog.push(d.toString()));
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`the bundled server exited ${code}: ${serverLog.join('')}`)));
    });
    info = JSON.parse(line);
    config = writeClientConfig(scratch.path, info.port, info.hostPublicKey, key.path);
  });

  afterAll(async () => {
    child?.kill('SIGTERM');
    if (container) await docker(['rm', '-f', container]);
    scratch.cleanup();
  });

  it('runs with ssh2’s JavaScript crypto', () => {
    expect(info.nativeCrypto).toBe(false);
  });

  it.each(['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com'])('carries exec and bulk data with %s', async (cipher) => {
    const data = randomBytes(2 * 1024 * 1024);
    const res = await new Promise<Buffer>((resolve, reject) => {
      const c = spawn('ssh', ['-F', config, '-c', cipher, 'job', 'echo "$FOO"; cat']);
      const out: Buffer[] = [];
      c.stdout.on('data', (d: Buffer) => out.push(d));
      c.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`ssh -c ${cipher} exited ${code}`))));
      c.stdin.end(data);
    });
    expect(res.subarray(0, 13).toString()).toBe('from-the-job\n');
    expect(res.subarray(13).equals(data)).toBe(true);
  });

  it('negotiates AES-GCM with OpenSSH’s default preferences', async () => {
    const res = await run('ssh', ['-F', config, '-v', 'job', 'true']);
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/server->client cipher: aes128-gcm@openssh\.com/);
    expect(res.stderr).toMatch(/client->server cipher: aes128-gcm@openssh\.com/);
  });

  // chacha20-poly1305 would run in JavaScript; AES-CTR needs a MAC over every packet on both ends.
  it.each(['chacha20-poly1305@openssh.com', 'aes128-ctr'])('does not offer %s', async (cipher) => {
    const before = serverLog.join('').split('no matching C->S cipher').length;
    const res = await run('ssh', ['-F', config, '-c', cipher, 'job', 'true']);
    expect(res.code).toBe(255);
    await waitFor('the server to log the refusal', () => serverLog.join('').split('no matching C->S cipher').length > before);
  });

  it('copies with scp and sftp and gives a TTY shell', async () => {
    const src = join(scratch.path, 'file.bin');
    writeFileSync(src, randomBytes(3 * 1024 * 1024));
    await mustRun('scp', ['-F', config, src, 'job:/tmp/file.bin']);
    const back = join(scratch.path, 'back.bin');
    await mustRun('sftp', ['-F', config, '-b', '-', 'job'], { input: `get /tmp/file.bin ${back}\n` });
    expect(readFileSync(back).equals(readFileSync(src))).toBe(true);
    const term = new SshTerminal(config, ['job']);
    try {
      term.write('echo "tty=$(tty)"; exit 9\n');
      await term.expect(/tty=\/dev\/pts\/\d+\n/);
      expect((await term.exited).exitCode).toBe(9);
    } finally {
      term.kill();
    }
  });
});
