// This machine as a HostConnection: child processes and local sockets. The daemon uses it through
// the same code path as a remote SSH host (agent deployment, the socket bridge), so the local
// backend exercises everything a fleet host does except the SSH transport.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, renameSync, rmSync, chmodSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import type { Duplex, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ExecOptions, ExecResult, HostConnection } from '../host-connection';

export class LocalHost implements HostConnection {
  readonly description = 'this machine';

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      // Its own process group, so a timeout kills the whole command, not only the shell.
      const child = spawn('sh', ['-c', command], { env: this.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      let timedOut = false;
      const timer = opts.timeoutMs
        ? setTimeout(() => {
            timedOut = true;
            try {
              process.kill(-child.pid!, 'SIGKILL');
            } catch {
              child.kill('SIGKILL');
            }
          }, opts.timeoutMs)
        : undefined;
      child.on('error', reject);
      child.on('close', (code) => {
        if (timer) clearTimeout(timer);
        const stderr = Buffer.concat(err).toString();
        resolve({
          code: timedOut ? 124 : (code ?? 1),
          stdout: Buffer.concat(out).toString(),
          stderr: timedOut ? `${stderr}timed out after ${opts.timeoutMs} ms` : stderr,
        });
      });
      child.stdin.on('error', () => {}); // a command that does not read its stdin
      child.stdin.end(opts.input ?? '');
    });
  }

  async upload(source: Readable, remotePath: string, mode = 0o644): Promise<void> {
    mkdirSync(dirname(remotePath), { recursive: true });
    const tmp = `${remotePath}.tmp-${randomBytes(4).toString('hex')}`;
    try {
      await pipeline(source, createWriteStream(tmp, { mode }));
      chmodSync(tmp, mode);
      renameSync(tmp, remotePath);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  }

  openUnixSocket(path: string): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(path);
      sock.once('connect', () => {
        sock.off('error', reject);
        resolve(sock);
      });
      sock.once('error', reject);
    });
  }

  async close(): Promise<void> {}
}
