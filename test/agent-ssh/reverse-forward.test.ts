// Remote port forwarding (ssh -R) with OpenSSH's ssh against the job SSH server over a Debian
// container of the test Docker engine: the job reaches a server on the client's side through a
// port on its loopback; the listener belongs to the job's user (the kernel's own record in
// /proc/net/tcp says whose socket it is), stays on loopback whatever address the client names,
// refuses a privileged port to a user that is not root, and goes away with the SSH connection.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DockerEngine, dockerEndpoint } from '../../packages/agent/src/docker/engine';
import { dockerSessionTarget } from '../../packages/agent/src/docker/session-target';
import { docker } from '../harness/docker';
import { freePort, mustRun, run, waitFor } from '../harness/util';
import { startServerAndClient, type ServerUnderTest } from './client';

const engine = () => new DockerEngine(dockerEndpoint({ DOCKER_HOST: inject('dockerHost') }));

/** Listening TCP sockets on `port` as the kernel lists them (this netns: the containers share it). */
function listeners(port: number): { addr: string; uid: number }[] {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const out: { addr: string; uid: number }[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 8 || f[3] !== '0A') continue;
      const [addr, p] = f[1].split(':');
      if (p === hex) out.push({ addr, uid: Number(f[7]) });
    }
  }
  return out;
}

const LOOPBACK = '0100007F';

describe('ssh -R into a job container', () => {
  let id: string;
  let sut: ServerUnderTest;
  let rootSut: ServerUnderTest;
  let web: Server;
  let webPort: number;
  const children: ChildProcess[] = [];
  const body = `through the tunnel ${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    const name = `dstack-agent-ssh-r-${randomBytes(4).toString('hex')}`;
    id = (await docker(['run', '-d', '--network', 'host', '--name', name, inject('debianImage'), 'sleep', 'infinity'])).stdout.trim();
    // The job's user is not root: nobody (65534) in the Debian image.
    const target = dockerSessionTarget({ engine: engine(), containerId: id, workingDir: '/tmp', user: 'nobody', env: {} });
    sut = await startServerAndClient(target);
    rootSut = await startServerAndClient(dockerSessionTarget({ engine: engine(), containerId: id, workingDir: '/tmp', env: {} }));
    // The server on the client's side the job reaches back to.
    web = createServer((_req, res) => res.end(body));
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    webPort = (web.address() as { port: number }).port;
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await sut?.close();
    await rootSut?.close();
    web?.close();
    if (id) await docker(['rm', '-f', id]);
  });

  /** `ssh -N -R spec job` in the background; resolves once the forward is up (or rejects when ssh exits). */
  function tunnel(config: string, spec: string): { child: ChildProcess; stderr: () => string; exited: Promise<number | null> } {
    const child = spawn('ssh', ['-F', config, '-N', '-o', 'LogLevel=INFO', '-o', 'ExitOnForwardFailure=yes', '-R', spec, 'job'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, stderr: () => err, exited };
  }

  /** The job fetches http://127.0.0.1:port/ from inside its container. */
  const fetchInJob = (port: number) =>
    sut.client.mustSsh([
      'job',
      `python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:${port}/', timeout=20).read().decode())"`,
    ]);

  it('forwards a port on the job’s loopback back to the client, listened on as the job’s user', async () => {
    const port = await freePort();
    const t = tunnel(sut.client.config, `${port}:127.0.0.1:${webPort}`);
    await waitFor(`the job's listener on ${port}`, () => listeners(port).length > 0 || t.child.exitCode !== null);
    expect(t.child.exitCode).toBeNull();
    expect(listeners(port)).toEqual([{ addr: LOOPBACK, uid: 65534 }]);
    expect((await fetchInJob(port)).stdout).toBe(`${body}\n`);
    // Twice: one listener serves every connection.
    expect((await fetchInJob(port)).stdout).toBe(`${body}\n`);
    expect(sut.logs.some((l) => l.includes(`remote forward 127.0.0.1:${port} (as nobody)`))).toBe(true);

    // Closed with the connection.
    t.child.kill('SIGTERM');
    await t.exited;
    await waitFor(`the listener on ${port} to close`, () => listeners(port).length === 0);
  });

  it('binds loopback even when the client asks for every address (GatewayPorts no)', async () => {
    const port = await freePort();
    const t = tunnel(sut.client.config, `0.0.0.0:${port}:127.0.0.1:${webPort}`);
    await waitFor(`the job's listener on ${port}`, () => listeners(port).length > 0 || t.child.exitCode !== null);
    expect(listeners(port)).toEqual([{ addr: LOOPBACK, uid: 65534 }]);
    expect((await fetchInJob(port)).stdout).toBe(`${body}\n`);
    t.child.kill('SIGTERM');
    await t.exited;
  });

  it('gives a free port for -R 0 and says which', async () => {
    const t = tunnel(sut.client.config, `0:127.0.0.1:${webPort}`);
    const port = await waitFor('the allocated port', () => {
      const m = /Allocated port (\d+) for remote forward/.exec(t.stderr());
      return m ? Number(m[1]) : t.child.exitCode !== null ? Number.NaN : undefined;
    });
    expect(port).toBeGreaterThan(0);
    expect(listeners(port)).toEqual([{ addr: LOOPBACK, uid: 65534 }]);
    expect((await fetchInJob(port)).stdout).toBe(`${body}\n`);
    t.child.kill('SIGTERM');
    await t.exited;
  });

  it('refuses a port below 1024 to a job user that is not root; root may have one', async () => {
    const t = tunnel(sut.client.config, `1000:127.0.0.1:${webPort}`);
    expect(await t.exited).not.toBe(0);
    expect(t.stderr()).toMatch(/remote port forwarding failed for listen port 1000/);
    expect(listeners(1000)).toEqual([]);
    expect(sut.logs.some((l) => /remote forward .*:1000 refused: port 1000 is privileged and nobody is not root/.test(l))).toBe(true);

    const r = tunnel(rootSut.client.config, `1000:127.0.0.1:${webPort}`);
    await waitFor('root’s listener on 1000', () => listeners(1000).length > 0 || r.child.exitCode !== null);
    expect(listeners(1000)).toEqual([{ addr: LOOPBACK, uid: 0 }]);
    r.child.kill('SIGTERM');
    await r.exited;
    await waitFor('the listener on 1000 to close', () => listeners(1000).length === 0);
  });

  it('adds and cancels a forward on a live connection (ssh -O forward / -O cancel through a master)', async () => {
    const sock = `${sut.client.dir}/mux-${randomBytes(3).toString('hex')}`;
    const master = spawn('ssh', ['-F', sut.client.config, '-M', '-S', sock, '-N', 'job'], { stdio: 'ignore' });
    children.push(master);
    try {
      await waitFor(
        'the master connection',
        async () => (await run('ssh', ['-F', sut.client.config, '-S', sock, '-O', 'check', 'job'])).code === 0,
      );
      const port = await freePort();
      const spec = `${port}:127.0.0.1:${webPort}`;
      await mustRun('ssh', ['-F', sut.client.config, '-S', sock, '-O', 'forward', '-R', spec, 'job']);
      await waitFor(`the listener on ${port}`, () => listeners(port).length > 0);
      expect((await fetchInJob(port)).stdout).toBe(`${body}\n`);
      await mustRun('ssh', ['-F', sut.client.config, '-S', sock, '-O', 'cancel', '-R', spec, 'job']);
      await waitFor(`the listener on ${port} to close`, () => listeners(port).length === 0);
      // The connection itself is still up.
      expect((await run('ssh', ['-F', sut.client.config, '-S', sock, '-O', 'check', 'job'])).code).toBe(0);
    } finally {
      await run('ssh', ['-F', sut.client.config, '-S', sock, '-O', 'exit', 'job']);
    }
  });

  it('refuses a port something else already listens on', async () => {
    const taken = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
    try {
      const t = tunnel(sut.client.config, `${port}:127.0.0.1:${webPort}`);
      expect(await t.exited).not.toBe(0);
      expect(t.stderr()).toMatch(new RegExp(`remote port forwarding failed for listen port ${port}`));
      expect(sut.logs.some((l) => l.includes(`cannot listen on 127.0.0.1:${port} as nobody: EADDRINUSE`))).toBe(true);
    } finally {
      taken.close();
    }
  });
});
