// A session's FIFOs live in a folder of the container's /tmp that the session's user owns once it
// is handed over (ssh-server/private-tmp.ts), and root in the container can touch it even before. A process
// there that keeps replacing whatever it finds in those folders with links (or, between its rm and
// its ln, lets the session's wrapper create a plain file at the name) must not make a session hang:
// each one ends, whatever it printed, and nothing is followed out of the container.
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DockerEngine, dockerEndpoint } from '../../packages/agent/src/docker/engine';
import { dockerSessionTarget } from '../../packages/agent/src/docker/session-target';
import { docker } from '../harness/docker';
import { run, waitFor } from '../harness/util';
import { startServerAndClient, type ServerUnderTest } from './client';

// A new session folder's stderr FIFO is removed a moment after it appears: after the agent opened
// its end, before the session's wrapper opens the name, which then creates a plain file there (the
// session hung for good before pipe-exec.ts opened a writer of its own through its descriptor).
const SWAPPER = `while :; do
  for d in /tmp/dstack-io-*; do
    [ -p "$d/err" ] || continue
    sleep 0.01; rm -f "$d/err"
  done 2>/dev/null
done`;

describe('sessions whose FIFOs a process in the container keeps swapping', () => {
  let id: string;
  let sut: ServerUnderTest;
  let sshAgent: ReturnType<typeof spawn> | undefined;

  beforeAll(async () => {
    id = (
      await docker([
        'run',
        '-d',
        '--network',
        'host',
        '--name',
        `dstack-swap-${randomBytes(4).toString('hex')}`,
        inject('debianImage'),
        'sleep',
        'infinity',
      ])
    ).stdout.trim();
    const engine = new DockerEngine(dockerEndpoint({ DOCKER_HOST: inject('dockerHost') }));
    sut = await startServerAndClient(dockerSessionTarget({ engine, containerId: id, workingDir: '/tmp', user: 'nobody', env: {} }));
    void run('docker', ['-H', inject('dockerHost'), 'exec', '-u', '0', id, 'sh', '-c', SWAPPER], { timeoutMs: 600_000 });
  });
  afterAll(async () => {
    sshAgent?.kill();
    await sut?.close();
    if (id) await docker(['rm', '-f', id]);
  });

  it('ends every session, with or without agent forwarding', { timeout: 600_000 }, async () => {
    const agentSock = join(sut.client.dir, 'agent.sock');
    sshAgent = spawn('ssh-agent', ['-D', '-a', agentSock], { stdio: 'ignore' });
    await waitFor('ssh-agent', () => existsSync(agentSock));
    const hung: number[] = [];
    for (let n = 0; n < 40; n++) {
      const r = await sut.client.ssh([...(n % 2 ? [] : ['-A']), 'job', 'echo out; echo err >&2; exit 3'], {
        timeoutMs: 30_000,
        env: { ...process.env, SSH_AUTH_SOCK: agentSock },
      });
      if (r.signal) hung.push(n);
    }
    expect(hung).toEqual([]);
  });
});
