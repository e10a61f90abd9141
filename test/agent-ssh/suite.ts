// The client suite every full session target must pass (a Debian container, the host): OpenSSH's
// ssh, scp, sftp and rsync against the job SSH server, as a user would run them.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateHostKey } from '../../packages/agent/src/ssh-server/server';
import type { SessionTarget } from '../../packages/agent/src/ssh-server/target';
import { freePort, mustRun, run, waitFor } from '../harness/util';
import { makeKey, startServerAndClient, writeClientConfig, type ServerUnderTest } from './client';
import { SshTerminal } from './terminal';

export interface TargetUnderTest {
  /** A target whose job env has FOO=from-the-job. */
  target: SessionTarget;
  /** A scratch directory inside the target, as the target sees it. */
  remoteDir: string;
  /** Starts `python3 -m http.server` inside the target on 127.0.0.1:port, serving dir. */
  startHttp(port: number, dir: string): Promise<void>;
  cleanup(): Promise<void>;
}

export const JOB_ENV = { FOO: 'from-the-job' };

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

function background(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export function clientSuite(name: string, setup: () => Promise<TargetUnderTest>): void {
  describe(name, () => {
    let t: TargetUnderTest;
    let sut: ServerUnderTest;
    let root: string;
    const activities: unknown[] = [];
    const children: ChildProcess[] = [];
    /** The target's file at a remote path, read from the agent's side. */
    const local = (remote: string) => join(root, remote);

    beforeAll(async () => {
      t = await setup();
      sut = await startServerAndClient(t.target, { onActivity: (a) => activities.push(a) });
      root = await t.target.fsRoot();
    });

    afterAll(async () => {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
      await sut?.close();
      await t?.cleanup();
    });

    it('runs commands with the job env and SSH env requests, keeps stdout and stderr apart', async () => {
      const res = await sut.client.mustSsh([
        '-o',
        'SetEnv=BAZ=from-the-client',
        'job',
        'echo "$FOO $BAZ"; echo "$SSH_CONNECTION"; echo oops >&2',
      ]);
      expect(res.stdout).toMatch(new RegExp(`^from-the-job from-the-client\n127\\.0\\.0\\.1 \\d+ 127\\.0\\.0\\.1 ${sut.server.port}\n$`));
      expect(res.stderr).toBe('oops\n');
    });

    it('returns the real exit status', async () => {
      expect((await sut.client.ssh(['job', 'exit 3'])).code).toBe(3);
      expect((await sut.client.ssh(['job', 'true'])).code).toBe(0);
      // A command on a TTY (ssh -t): same status, output through the terminal.
      const tty = await sut.client.ssh(['-tt', 'job', 'tty; exit 4']);
      expect(tty.code).toBe(4);
      expect(tty.stdout).toMatch(/^\/dev\/pts\/\d+\r?\n/);
    });

    it('passes stdin through to EOF, byte for byte', async () => {
      const data = randomBytes(5 * 1024 * 1024);
      const res = await new Promise<Buffer>((resolve, reject) => {
        const child = spawn('ssh', ['-F', sut.client.config, 'job', 'cat']);
        const out: Buffer[] = [];
        child.stdout.on('data', (d: Buffer) => out.push(d));
        child.on('error', reject);
        child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`ssh cat exited ${code}`))));
        child.stdin.end(data);
      });
      expect(res.equals(data)).toBe(true);
      expect((await sut.client.mustSsh(['job', 'wc -c'], { input: 'x'.repeat(12345) })).stdout.trim()).toBe('12345');
    });

    it('gives an interactive shell on a TTY that follows the terminal size', async () => {
      const term = new SshTerminal(sut.client.config, ['job'], { cols: 100, rows: 30 });
      try {
        term.write('echo "tty=$(tty) foo=$FOO"; stty size\n');
        await term.expect(/tty=\/dev\/pts\/\d+ foo=from-the-job\n30 100\n/);
        const mark = term.text.length;
        term.resize(120, 40);
        // The window change travels asynchronously: ask until the shell sees it.
        await waitFor(
          'the new terminal size in the session',
          async () => {
            term.write('stty size\n');
            await new Promise((r) => setTimeout(r, 300));
            return /^40 120$/m.test(term.text.slice(mark));
          },
          { intervalMs: 500 },
        );
        term.write('exit 7\n');
        expect((await term.exited).exitCode).toBe(7);
      } finally {
        term.kill();
      }
    });

    it('copies files both ways with scp, keeping contents and modes', async () => {
      const up = join(sut.client.dir, 'up.bin');
      const data = randomBytes(3 * 1024 * 1024 + 17);
      writeFileSync(up, data);
      chmodSync(up, 0o750);
      await mustRun('scp', ['-F', sut.client.config, '-p', up, `job:${t.remoteDir}/scp-up.bin`]);
      expect(readFileSync(local(`${t.remoteDir}/scp-up.bin`)).equals(data)).toBe(true);
      expect(statSync(local(`${t.remoteDir}/scp-up.bin`)).mode & 0o777).toBe(0o750);

      writeFileSync(local(`${t.remoteDir}/scp-down.txt`), 'from the target\n');
      chmodSync(local(`${t.remoteDir}/scp-down.txt`), 0o604);
      const down = join(sut.client.dir, 'scp-down.txt');
      await mustRun('scp', ['-F', sut.client.config, '-p', `job:${t.remoteDir}/scp-down.txt`, down]);
      expect(readFileSync(down, 'utf8')).toBe('from the target\n');
      expect(statSync(down).mode & 0o777).toBe(0o604);
    });

    it('serves sftp: put and get both ways, directories, rename, symlinks, removal', async () => {
      const src = join(sut.client.dir, 'sftp-src.bin');
      const data = randomBytes(1024 * 1024 + 3);
      writeFileSync(src, data);
      chmodSync(src, 0o640);
      const back = join(sut.client.dir, 'sftp-back.bin');
      const d = t.remoteDir;
      const batch = [
        `mkdir ${d}/sftp`,
        `put -p ${src} ${d}/sftp/a.bin`,
        `rename ${d}/sftp/a.bin ${d}/sftp/b.bin`,
        `ln -s b.bin ${d}/sftp/link`,
        `get -p ${d}/sftp/link ${back}`,
        `put ${src} ${d}/sftp/gone.bin`,
        `rm ${d}/sftp/gone.bin`,
        `ls -l ${d}/sftp`,
      ].join('\n');
      const res = await mustRun('sftp', ['-F', sut.client.config, '-b', '-', 'job'], { input: `${batch}\n` });
      expect(readFileSync(local(`${d}/sftp/b.bin`)).equals(data)).toBe(true);
      expect(statSync(local(`${d}/sftp/b.bin`)).mode & 0o777).toBe(0o640);
      expect(readFileSync(back).equals(data)).toBe(true);
      expect(statSync(back).mode & 0o777).toBe(0o640);
      expect(existsSync(local(`${d}/sftp/gone.bin`))).toBe(false);
      // OpenSSH's sftp-server and ours: the name alone or the whole path.
      expect(res.stdout).toMatch(/^-rw-r----- .*[ /]b\.bin$/m);
      expect(res.stdout).toMatch(/^lrwxrwxrwx .*[ /]link$/m);
    });

    it('starts relative sftp paths in the home directory', async () => {
      const user = await t.target.user!();
      const res = await mustRun('sftp', ['-F', sut.client.config, '-b', '-', 'job'], { input: 'pwd\n' });
      expect(res.stdout).toContain(`Remote working directory: ${user.home}`);
    });

    it('syncs a folder with rsync -e ssh', async () => {
      const src = join(sut.client.dir, 'tree');
      mkdirSync(join(src, 'sub/deeper'), { recursive: true });
      writeFileSync(join(src, 'top.txt'), 'top\n');
      writeFileSync(join(src, 'sub/deeper/run.sh'), '#!/bin/sh\necho hi\n');
      chmodSync(join(src, 'sub/deeper/run.sh'), 0o755);
      const dest = `${t.remoteDir}/synced`;
      await mustRun('rsync', ['-a', '-e', `ssh -F ${sut.client.config}`, `${src}/`, `job:${dest}/`]);
      expect(readFileSync(local(`${dest}/top.txt`), 'utf8')).toBe('top\n');
      expect(statSync(local(`${dest}/sub/deeper/run.sh`)).mode & 0o777).toBe(0o755);
      // A second run sends only what changed.
      writeFileSync(join(src, 'top.txt'), 'changed\n');
      const again = await mustRun('rsync', ['-a', '-i', '-e', `ssh -F ${sut.client.config}`, `${src}/`, `job:${dest}/`]);
      expect(again.stdout).toMatch(/top\.txt/);
      expect(again.stdout).not.toMatch(/run\.sh/);
      expect(readFileSync(local(`${dest}/top.txt`), 'utf8')).toBe('changed\n');
    });

    it('forwards a local port (ssh -L) to an HTTP server inside the target', async () => {
      const serveDir = `${t.remoteDir}/www`;
      mkdirSync(local(serveDir), { recursive: true });
      writeFileSync(local(`${serveDir}/hello.txt`), 'hello through the tunnel\n');
      const remotePort = await freePort();
      await t.startHttp(remotePort, serveDir);
      const localPort = await freePort();
      const tunnel = background('ssh', [
        '-F',
        sut.client.config,
        '-N',
        '-o',
        'ExitOnForwardFailure=yes',
        '-L',
        `${localPort}:127.0.0.1:${remotePort}`,
        'job',
      ]);
      children.push(tunnel);
      const res = await waitFor('the HTTP server through the tunnel', async () => {
        const r = await httpGet(localPort, '/hello.txt');
        return r.status === 200 ? r : undefined;
      });
      expect(res.body).toBe('hello through the tunnel\n');
      tunnel.kill('SIGTERM');
      await exited(tunnel);
    });

    it('forwards the SSH agent (ssh -A) and removes its socket when the session ends', async () => {
      const agentSock = join(sut.client.dir, 'agent.sock');
      const started = await mustRun('ssh-agent', ['-a', agentSock]);
      const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(started.stdout)?.[1]);
      try {
        const key = await makeKey(sut.client.dir, 'agent_key');
        const env = { ...process.env, SSH_AUTH_SOCK: agentSock };
        await mustRun('ssh-add', [key.path], { env });
        const fingerprint = (await mustRun('ssh-keygen', ['-lf', `${key.path}.pub`])).stdout.split(' ')[1];
        const res = await sut.client.mustSsh(['-A', 'job', 'echo "sock=$SSH_AUTH_SOCK"; ssh-add -l'], { env });
        expect(res.stdout).toContain(fingerprint);
        const sock = /sock=(\S+)/.exec(res.stdout)![1];
        expect(sock).toMatch(/^\/tmp\/dstack-ssh-[0-9a-f]+\/agent\.sock$/);
        await waitFor('the forwarded agent socket to go', () => !existsSync(local(sock)));
        // Without -A there is none.
        expect((await sut.client.mustSsh(['job', 'echo "sock=$SSH_AUTH_SOCK"'], { env })).stdout).toBe('sock=\n');
      } finally {
        if (pid) process.kill(pid, 'SIGTERM');
      }
    });

    it('refuses a key that is not authorized, and passwords', async () => {
      const wrong = await makeKey(sut.client.dir, 'wrong_key');
      const cfg = writeClientConfig(sut.client.dir, sut.server.port, sut.server.hostPublicKey, wrong.path, 'wrong_config');
      const res = await run('ssh', ['-F', cfg, 'job', 'true']);
      expect(res.code).toBe(255);
      expect(res.stderr).toContain('Permission denied');
      const pw = await sut.client.ssh([
        '-o',
        'PubkeyAuthentication=no',
        '-o',
        'PreferredAuthentications=password,keyboard-interactive',
        'job',
        'true',
      ]);
      expect(pw.code).toBe(255);
      expect(pw.stderr).toContain('Permission denied');
    });

    it('is refused by a client that pinned another host key', async () => {
      const cfg = writeClientConfig(sut.client.dir, sut.server.port, generateHostKey().publicKey, sut.client.keyPath, 'other_host_config');
      const res = await run('ssh', ['-F', cfg, 'job', 'true']);
      expect(res.code).toBe(255);
      expect(res.stderr).toMatch(/Host key verification failed/);
    });

    it('counts open sessions by kind and idle seconds from the last close', async () => {
      const a = () => sut.server.activity();
      await waitFor('no session open', () => a().shellSessions + a().execSessions + a().sftpSessions + a().portForwards === 0);
      // exec: held open by a command waiting for its stdin.
      const exec = background('ssh', ['-F', sut.client.config, 'job', 'read line']);
      children.push(exec);
      await waitFor('an open exec session', () => a().execSessions === 1 && a().inactiveSeconds === 0);
      expect(activities).toContainEqual(expect.objectContaining({ execSessions: 1, inactiveSeconds: 0 }));
      // sftp: an interactive sftp waiting for commands.
      const sftp = background('sftp', ['-F', sut.client.config, 'job']);
      children.push(sftp);
      await waitFor('an open sftp session', () => a().sftpSessions === 1);
      // a shell on a TTY.
      const term = new SshTerminal(sut.client.config, ['job']);
      await waitFor('an open shell session', () => a().shellSessions === 1);
      // a forwarded connection, open while a client holds it.
      const remotePort = await freePort();
      // A TCP server on the target's side that closes each connection after its first byte.
      const held = background('python3', [
        '-c',
        [
          'import socket, threading',
          's = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
          `s.bind(('127.0.0.1', ${remotePort})); s.listen(8)`,
          'def serve(c):',
          '    c.recv(1); c.close()',
          'while True:',
          '    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()',
        ].join('\n'),
      ]);
      children.push(held);
      const { Socket } = await import('node:net');
      const connectTo = (port: number) =>
        new Promise<InstanceType<typeof Socket> | undefined>((resolve) => {
          const s = new Socket();
          s.once('error', () => resolve(undefined));
          s.connect(port, '127.0.0.1', () => resolve(s));
        });
      (await waitFor('the TCP server in the target', () => connectTo(remotePort))).destroy();
      const localPort = await freePort();
      const tunnel = background('ssh', ['-F', sut.client.config, '-N', '-L', `${localPort}:127.0.0.1:${remotePort}`, 'job']);
      children.push(tunnel);
      const sock = await waitFor('the tunnel to accept', () => connectTo(localPort));
      await waitFor('an open port forward', () => a().portForwards === 1);
      expect(a()).toMatchObject({ shellSessions: 1, execSessions: 1, sftpSessions: 1, portForwards: 1, inactiveSeconds: 0 });

      sock.end('x');
      await waitFor('the port forward to close', () => a().portForwards === 0);
      exec.stdin!.end('done\n');
      expect(await exited(exec)).toBe(0);
      sftp.stdin!.end('bye\n');
      expect(await exited(sftp)).toBe(0);
      term.write('exit\n');
      await term.exited;
      tunnel.kill('SIGTERM');
      await exited(tunnel);
      await waitFor('every session closed', () => {
        const now = a();
        return now.shellSessions + now.execSessions + now.sftpSessions + now.portForwards === 0;
      });
      // Idle time counts from the last close, in whole seconds.
      await waitFor('two idle seconds', () => a().inactiveSeconds >= 2, { timeoutMs: 30_000 });
      expect(activities.at(-1)).toMatchObject({ shellSessions: 0, execSessions: 0, sftpSessions: 0, portForwards: 0 });
    });
  });
}
