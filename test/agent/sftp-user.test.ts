// SFTP for a job with `user: nobody`, through OpenSSH's sftp client, with each of the two servers the
// agent can give a session: the image's own sftp-server (run as the session user inside the job), and
// the agent's own (a child that drops to the session user's uid before it reads a request). Either
// way: files land as nobody, chown/chgrp to root are refused, no file gains a set-id bit that grants
// another user anything, and root's files keep their bytes and modes.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobState } from '@dstack/core/gen/agent';
import { run, tempDir, waitFor } from '../harness/util';
import { makeKey, writeClientConfig } from '../agent-ssh/client';
import { startAgent, uniqueId, type AgentProcess } from './agent';

const docker = (args: string[]) => run('docker', ['-H', inject('dockerHost'), ...args], { timeoutMs: 60_000 });

for (const server of ['image', 'own'] as const) {
  describe(`SFTP as user: nobody, served by ${server === 'image' ? "the image's sftp-server" : "the agent's own server"}`, () => {
    let agent: AgentProcess;
    let cleanup: () => Promise<void>;
    const scratch = tempDir(`sftp-${server}`);
    let config: string;
    let cid: string;
    const stat = async (path: string) => (await docker(['exec', '-u', '0', cid, 'stat', '-c', '%a %u %g', path])).stdout.trim();
    const cat = async (path: string) => (await docker(['exec', '-u', '0', cid, 'cat', path])).stdout;
    /** One sftp command on its own, so each one's failure is seen (batch mode exits non-zero on it). */
    const sftp = async (command: string) => {
      const r = await run('sftp', ['-F', config, '-b', '-', 'job'], { input: `${command}\n`, timeoutMs: 60_000 });
      if (process.env.DSTACK_TEST_VERBOSE) console.log(command, r.code, r.stderr);
      return r;
    };

    beforeAll(async () => {
      ({ agent, cleanup } = await startAgent({
        DOCKER_HOST: inject('dockerHost'),
        ...(server === 'own' ? { DSTACK_AGENT_SFTP: 'own' } : {}),
      }));
      const key = await makeKey(scratch.path, 'id_sftp');
      const jobId = uniqueId(`sftp-${server}`);
      await agent.submit({ jobId, runtime: 'docker', image: inject('debianImage'), user: 'nobody', authorizedKeys: [key.publicKey] });
      const job = await waitFor(
        `job ${jobId} to run`,
        async () => {
          const j = await agent.getJob(jobId);
          if (j.status!.state === JobState.JOB_STATE_FAILED) throw new Error(`job failed: ${j.status!.message}`);
          return j.status!.state === JobState.JOB_STATE_RUNNING ? j : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 100 },
      );
      cid = job.status!.containerId;
      config = writeClientConfig(scratch.path, job.status!.sshPort, job.status!.sshHostKey, key.path);
      // Root's files next to the user's: one in the user's own code dir, one in a root folder.
      await docker([
        'exec',
        '-u',
        '0',
        cid,
        'sh',
        '-c',
        'echo root > /workflow/root.txt && chmod 644 /workflow/root.txt && mkdir -p /srv/rootdir && echo root > /srv/rootdir/f && chmod 644 /srv/rootdir/f',
      ]);
      writeFileSync(join(scratch.path, 'up.txt'), 'uploaded\n');
    }, 180_000);
    afterAll(async () => {
      await cleanup?.();
      scratch.cleanup();
    });

    it('is served as nobody, by the server this mode picks', async () => {
      // A session held open while we look at the processes.
      const client = spawn('sftp', ['-F', config, 'job'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      client.stdout.on('data', (d: Buffer) => (out += d.toString()));
      try {
        client.stdin.write('pwd\n');
        await waitFor('the sftp session', () => out.includes('Remote working directory'), { timeoutMs: 30_000 });
        if (server === 'image') {
          const ps = (await docker(['exec', '-u', '0', cid, 'ps', '-eo', 'uid=,args='])).stdout;
          const line = ps.split('\n').find((l) => l.includes('sftp-server'));
          expect(line, ps).toBeDefined();
          expect(line!.trim().split(/\s+/)[0]).toBe('65534');
        } else {
          const ps = (await run('ps', ['-eo', 'uid=,args='])).stdout;
          const lines = ps.split('\n').filter((l) => l.includes('sftp-server') && l.includes(`--uid`));
          expect(lines.length, ps).toBeGreaterThan(0);
          expect(
            lines.every((l) => l.trim().split(/\s+/)[0] === '65534'),
            ps,
          ).toBe(true);
          // and the image's server is not running in the job
          expect((await docker(['exec', '-u', '0', cid, 'ps', '-eo', 'args='])).stdout).not.toContain('sftp-server');
        }
      } finally {
        client.stdin.end('bye\n');
        await new Promise((r) => client.once('exit', r));
      }
    });

    it('writes files as nobody and refuses chown and chgrp to root', async () => {
      expect((await sftp(`put ${join(scratch.path, 'up.txt')} /workflow/mine.txt`)).code).toBe(0);
      expect(await stat('/workflow/mine.txt')).toMatch(/^\d+ 65534 65534$/);
      expect((await sftp('chown 0 /workflow/mine.txt')).code).not.toBe(0);
      expect((await sftp('chgrp 0 /workflow/mine.txt')).code).not.toBe(0);
      expect(await stat('/workflow/mine.txt')).toMatch(/^\d+ 65534 65534$/);
    });

    it('gives no file a set-id bit that grants another user anything', async () => {
      expect((await sftp(`put ${join(scratch.path, 'up.txt')} /workflow/tool`)).code).toBe(0);
      const chmod = await sftp('chmod 6755 /workflow/tool');
      const [mode, uid, gid] = (await stat('/workflow/tool')).split(' ');
      const bits = parseInt(mode!, 8);
      if (server === 'own') {
        // The agent's server refuses set-id bits outright.
        expect(chmod.code).not.toBe(0);
        expect(bits & 0o6000).toBe(0);
      } else {
        // The image's server asks the kernel as nobody: a set-id bit is at most nobody's own, as
        // `chmod u+s` in nobody's shell would make it.
        expect(uid).toBe('65534');
        if (bits & 0o2000) expect(gid).toBe('65534');
      }
      // On root's file the bits never land, whoever serves.
      expect((await sftp('chmod 4755 /workflow/root.txt')).code).not.toBe(0);
      expect(await stat('/workflow/root.txt')).toBe('644 0 0');
    });

    it("writes nothing of root's", async () => {
      const up = join(scratch.path, 'up.txt');
      const passwd = await cat('/etc/passwd');
      for (const command of [
        `put ${up} /etc/passwd`,
        `put ${up} /workflow/root.txt`,
        `put ${up} /srv/rootdir/f`,
        `put ${up} /srv/rootdir/new`,
        'rm /srv/rootdir/f',
        'rename /srv/rootdir/f /srv/rootdir/g',
        'mkdir /root/x',
        'chmod 777 /srv/rootdir/f',
        'chmod 777 /etc/passwd',
        'symlink /etc/shadow /srv/rootdir/l',
      ]) {
        expect((await sftp(command)).code, command).not.toBe(0);
      }
      // A link the user may make, to a file the user may not read: reading through it is refused too.
      expect((await sftp('symlink /etc/shadow /workflow/shadow-link')).code).toBe(0);
      expect((await sftp(`get /workflow/shadow-link ${join(scratch.path, 'shadow')}`)).code).not.toBe(0);

      expect(await cat('/etc/passwd')).toBe(passwd);
      expect(await stat('/etc/passwd')).toBe('644 0 0');
      expect(await cat('/workflow/root.txt')).toBe('root\n');
      expect(await cat('/srv/rootdir/f')).toBe('root\n');
      expect(await stat('/srv/rootdir/f')).toBe('644 0 0');
      expect((await docker(['exec', '-u', '0', cid, 'ls', '-A', '/srv/rootdir'])).stdout.trim()).toBe('f');
      expect((await docker(['exec', '-u', '0', cid, 'ls', '-A', '/root'])).stdout).not.toContain('x');
    });
  });
}
