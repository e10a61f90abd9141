// The job SSH server over the host itself (host-mode jobs, no Docker): the same client suite, plus
// the TTY fallback through util-linux `script` used where node-pty cannot load, and the exit
// signal of a killed command.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostSessionTarget } from '../../packages/agent/src/ssh-server/host-process';
import { loadPty, setPtyLoader } from '../../packages/agent/src/ssh-server/pty';
import { tempDir } from '../harness/util';
import { startServerAndClient, type ServerUnderTest } from './client';
import { clientSuite, JOB_ENV } from './suite';
import { SshTerminal } from './terminal';

clientSuite('job SSH server on the host', async () => {
  const scratch = tempDir('agent-ssh-host');
  const workingDir = join(scratch.path, 'workflow');
  const remoteDir = join(scratch.path, 'files');
  mkdirSync(workingDir);
  mkdirSync(remoteDir);
  const servers: ChildProcess[] = [];
  return {
    target: hostSessionTarget({ workingDir, env: JOB_ENV }),
    remoteDir,
    startHttp: async (port, dir) => {
      const child = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', dir], { stdio: 'ignore' });
      servers.push(child);
    },
    cleanup: async () => {
      for (const s of servers) s.kill('SIGTERM');
      scratch.cleanup();
    },
  };
});

describe('job SSH server on the host, details', () => {
  let sut: ServerUnderTest;
  const scratch = tempDir('agent-ssh-host2');

  beforeAll(async () => {
    sut = await startServerAndClient(hostSessionTarget({ workingDir: scratch.path, env: JOB_ENV }));
  });

  afterAll(async () => {
    setPtyLoader(() => loadPtyOriginal);
    await sut?.close();
    scratch.cleanup();
  });

  const loadPtyOriginal = loadPty();

  it('starts sessions in the working dir with a fresh environment, not the agent’s', async () => {
    process.env.DSTACK_AGENT_ONLY = 'leak';
    try {
      const res = await sut.client.mustSsh(['job', 'pwd; echo "[$DSTACK_AGENT_ONLY] $FOO $SHELL"']);
      expect(res.stdout).toBe(`${scratch.path}\n[] from-the-job /bin/bash\n`);
    } finally {
      delete process.env.DSTACK_AGENT_ONLY;
    }
  });

  it('reports a command killed by a signal as such', async () => {
    const res = await sut.client.ssh(['-v', 'job', 'kill -TERM $$']);
    expect(res.code).toBe(255);
    expect(res.stderr).toMatch(/exit-signal/);
  });

  it('gives a TTY through `script` where node-pty is not available', async () => {
    expect(loadPtyOriginal).toBeDefined();
    setPtyLoader(() => undefined);
    expect(loadPty()).toBeUndefined();
    const term = new SshTerminal(sut.client.config, ['job'], { cols: 110, rows: 33 });
    try {
      term.write('echo "tty=$(tty) foo=$FOO"; stty size\n');
      await term.expect(/tty=\/dev\/pts\/\d+ foo=from-the-job\n33 110\n/);
      term.write('exit 6\n');
      expect((await term.exited).exitCode).toBe(6);
    } finally {
      term.kill();
      setPtyLoader(() => loadPtyOriginal);
    }
  });
});
