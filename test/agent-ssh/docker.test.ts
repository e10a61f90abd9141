// The job SSH server over containers of the test Docker engine, sessions through Docker exec: the
// full client suite on the Debian image, and what the busybox image (nothing but /bin/sh) must
// still give: a shell, exec, sftp and scp (the built-in sftp server), confined to the container.
// Sessions without a TTY are tested on both of their paths (FIFOs, and the exec stream).
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DockerEngine, dockerEndpoint } from '../../packages/agent/src/docker/engine';
import { dockerSessionTarget } from '../../packages/agent/src/docker/session-target';
import { docker } from '../harness/docker';
import { mustRun } from '../harness/util';
import { startServerAndClient, type ServerUnderTest } from './client';
import { clientSuite, JOB_ENV } from './suite';
import { SshTerminal } from './terminal';

const engine = () => new DockerEngine(dockerEndpoint({ DOCKER_HOST: inject('dockerHost') }));

async function startContainer(image: string, command: string[], runArgs: string[] = []): Promise<string> {
  const name = `dstack-agent-ssh-${randomBytes(4).toString('hex')}`;
  const res = await docker(['run', '-d', '--network', 'host', '--name', name, ...runArgs, image, ...command]);
  return res.stdout.trim();
}

clientSuite('job SSH server in a Debian container', async () => {
  const id = await startContainer(inject('debianImage'), ['sleep', 'infinity']);
  const remoteDir = `/tmp/ssh-suite-${randomBytes(4).toString('hex')}`;
  await docker(['exec', id, 'mkdir', '-p', remoteDir]);
  return {
    target: dockerSessionTarget({ engine: engine(), containerId: id, workingDir: '/root', env: JOB_ENV }),
    remoteDir,
    startHttp: async (port, dir) => {
      await docker(['exec', '-d', id, 'python3', '-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', dir]);
    },
    cleanup: async () => {
      await docker(['rm', '-f', id]);
    },
  };
});

describe('job SSH server in a busybox container', () => {
  let id: string;
  let sut: ServerUnderTest;
  let root: string;
  const marker = `dstack-escape-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    id = await startContainer(inject('busyboxImage'), ['sh', '-c', 'trap exit TERM; while :; do sleep 1; done']);
    const target = dockerSessionTarget({ engine: engine(), containerId: id, workingDir: '/', env: JOB_ENV });
    sut = await startServerAndClient(target);
    root = await target.fsRoot();
  });

  afterAll(async () => {
    rmSync(`/tmp/${marker}`, { force: true });
    await sut?.close();
    if (id) await docker(['rm', '-f', id]);
  });

  it('runs commands with the job env and their exit status', async () => {
    const res = await sut.client.ssh(['job', 'echo "$FOO in $(pwd)"; exit 4']);
    expect(res.stdout).toBe('from-the-job in /\n');
    expect(res.code).toBe(4);
  });

  it('gives an interactive /bin/sh on a TTY', async () => {
    const term = new SshTerminal(sut.client.config, ['job'], { cols: 90, rows: 20 });
    try {
      term.write('echo "shell=$0 foo=$FOO"; stty size\n');
      await term.expect(/shell=\S*sh foo=from-the-job\n20 90\n/);
      term.write('exit 2\n');
      expect((await term.exited).exitCode).toBe(2);
    } finally {
      term.kill();
    }
  });

  it('serves sftp and scp with no sftp-server in the image', async () => {
    expect(existsSync(join(root, 'usr/lib/openssh/sftp-server'))).toBe(false);
    const src = join(sut.client.dir, 'payload.bin');
    const data = randomBytes(2 * 1024 * 1024 + 5);
    writeFileSync(src, data);
    await mustRun('sftp', ['-F', sut.client.config, '-b', '-', 'job'], { input: `put ${src} /root/by-sftp.bin\n` });
    expect(readFileSync(join(root, 'root/by-sftp.bin')).equals(data)).toBe(true);
    const back = join(sut.client.dir, 'back.bin');
    await mustRun('scp', ['-F', sut.client.config, 'job:/root/by-sftp.bin', back]);
    expect(readFileSync(back).equals(data)).toBe(true);
    await mustRun('scp', ['-F', sut.client.config, src, 'job:by-scp.bin']);
    expect(statSync(join(root, 'root/by-scp.bin')).size).toBe(data.length);
  });

  it("keeps sftp inside the container: symlinks and .. resolve against the container's root", async () => {
    // A file on the host that an escape would reach, and links in the container pointing "out".
    writeFileSync(`/tmp/${marker}`, 'host secret\n');
    await docker(['exec', id, 'sh', '-c', `ln -s / /tmp/to-root && ln -s ../../../../../.. /tmp/up && echo inside > /etc/${marker}`]);
    const tryGet = (path: string) =>
      mustRun('sftp', ['-F', sut.client.config, '-b', '-', 'job'], { input: `get ${path} ${join(sut.client.dir, 'got')}\n` }).then(
        () => readFileSync(join(sut.client.dir, 'got'), 'utf8'),
        (err: Error) => `refused: ${err.message}`,
      );
    expect(await tryGet(`/tmp/to-root/tmp/${marker}`)).toMatch(/^refused: .*(not found|No such file)/s);
    expect(await tryGet(`/tmp/up/tmp/${marker}`)).toMatch(/^refused: .*(not found|No such file)/s);
    expect(await tryGet(`/../../../../tmp/${marker}`)).toMatch(/^refused: .*(not found|No such file)/s);
    // The same links do work inside the container.
    expect(await tryGet(`/tmp/to-root/etc/${marker}`)).toBe('inside\n');
    expect(await tryGet(`/tmp/up/etc/${marker}`)).toBe('inside\n');
    // Writes through a link land in the container too.
    await mustRun('sftp', ['-F', sut.client.config, '-b', '-', 'job'], {
      input: `put ${join(sut.client.dir, 'got')} /tmp/up/tmp/${marker}\n`,
    });
    expect(readFileSync(`/tmp/${marker}`, 'utf8')).toBe('host secret\n');
    expect(readFileSync(join(root, 'tmp', marker), 'utf8')).toBe('inside\n');
  });
});

describe('job SSH server in a container, as a non-root user', () => {
  let id: string;
  let sut: ServerUnderTest;
  let root: string;

  beforeAll(async () => {
    id = await startContainer(inject('debianImage'), ['sleep', 'infinity']);
    await docker(['exec', id, 'sh', '-c', 'useradd -m -u 4321 -s /bin/bash dev']);
    const target = dockerSessionTarget({ engine: engine(), containerId: id, workingDir: '/home/dev', user: 'dev', env: JOB_ENV });
    sut = await startServerAndClient(target);
    root = await target.fsRoot();
  });

  afterAll(async () => {
    await sut?.close();
    if (id) await docker(['rm', '-f', id]);
  });

  it('runs sessions as that user and gives it the files sftp creates', async () => {
    const res = await sut.client.mustSsh(['job', 'echo "$(id -un) $HOME $(pwd)"']);
    expect(res.stdout).toBe('dev /home/dev /home/dev\n');
    const src = join(sut.client.dir, 'mine.txt');
    writeFileSync(src, 'mine\n');
    await mustRun('sftp', ['-F', sut.client.config, '-b', '-', 'job'], { input: `put ${src} mine.txt\nmkdir made\n` });
    const st = statSync(join(root, 'home/dev/mine.txt'));
    expect([st.uid, st.gid]).toEqual([4321, 4321]);
    expect(statSync(join(root, 'home/dev/made')).uid).toBe(4321);
  });
});

// Sessions without a TTY take FIFOs in the container's /tmp (docker/pipe-exec.ts), or Docker's exec
// stream where FIFOs cannot be made; both must behave like a pipe through sshd.
describe.each([
  ['FIFOs', true],
  ["Docker's exec stream", false],
])('sessions without a TTY through %s', (_name, pipes) => {
  let id: string;
  let sut: ServerUnderTest;
  let root: string;
  const notes: string[] = [];

  beforeAll(async () => {
    id = await startContainer(inject('debianImage'), ['sleep', 'infinity']);
    const target = dockerSessionTarget({
      engine: engine(),
      containerId: id,
      workingDir: '/root',
      env: JOB_ENV,
      pipes,
      log: (l) => notes.push(l),
    });
    sut = await startServerAndClient(target);
    root = await target.fsRoot();
  });

  afterAll(async () => {
    await sut?.close();
    if (id) await docker(['rm', '-f', id]);
  });

  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  /** sha256 of what `ssh job CMD` prints, computed on this side of a shell pipe. */
  const shaOfOutput = async (cmd: string) =>
    (await mustRun('sh', ['-c', `ssh -F ${sut.client.config} job '${cmd}' | sha256sum`])).stdout.split(' ')[0];

  it('keeps stdout and stderr apart and returns the exit status', async () => {
    const res = await sut.client.ssh(['job', 'echo out; echo err >&2; echo "$FOO"; exit 7']);
    expect(res).toMatchObject({ code: 7, stdout: 'out\nfrom-the-job\n', stderr: 'err\n' });
  });

  it('carries stdin to EOF and bulk data both ways, byte for byte', async () => {
    const up = randomBytes(6 * 1024 * 1024 + 3);
    const res = await sut.client.mustSsh(['job', 'sha256sum'], { input: up });
    expect(res.stdout.split(' ')[0]).toBe(sha(up));
    const down = randomBytes(24 * 1024 * 1024 + 7);
    writeFileSync(join(root, 'tmp/down.bin'), down);
    expect(await shaOfOutput('cat /tmp/down.bin')).toBe(sha(down));
  });

  it('returns when the command ignores a large stdin, and waits for output a background child still writes', async () => {
    const res = await sut.client.mustSsh(['job', 'echo done'], { input: randomBytes(8 * 1024 * 1024) });
    expect(res.stdout).toBe('done\n');
    const bg = await sut.client.mustSsh(['job', '(sleep 1; echo late) & echo early']);
    expect(bg.stdout).toBe('early\nlate\n');
  });

  it('gives short commands all their output, one after another', async () => {
    for (let i = 0; i < 15; i++) {
      const res = await sut.client.mustSsh(['job', `echo ${i}; echo e${i} >&2`]);
      expect([res.stdout, res.stderr]).toEqual([`${i}\n`, `e${i}\n`]);
    }
  });

  it("leaves nothing in the container's /tmp", async () => {
    expect(readdirSync(join(root, 'tmp')).filter((n) => n.startsWith('dstack-io-'))).toEqual([]);
    expect(notes).toEqual([]);
  });
});

describe('sessions without a TTY in a container whose /tmp cannot be written', () => {
  it("fall back to Docker's exec stream, with one note", async () => {
    const id = await startContainer(inject('debianImage'), ['sleep', 'infinity'], ['--read-only']);
    const notes: string[] = [];
    const sut = await startServerAndClient(
      dockerSessionTarget({ engine: engine(), containerId: id, workingDir: '/root', env: JOB_ENV, log: (l) => notes.push(l) }),
    );
    try {
      for (let i = 0; i < 2; i++) {
        const res = await sut.client.ssh(['job', 'echo "ok $FOO"; exit 3'], { input: 'x' });
        expect(res).toMatchObject({ code: 3, stdout: 'ok from-the-job\n' });
      }
      expect(notes).toHaveLength(1);
      expect(notes[0]).toMatch(/cannot make the session's FIFOs: .*read-only.*exec stream/);
    } finally {
      await sut.close();
      await docker(['rm', '-f', id]);
    }
  });
});
