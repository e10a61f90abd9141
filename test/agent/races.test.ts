// The agent is root on the host and works in trees a job can write. Here a process in the job's
// container (root in there, the strongest neighbour a job has) swaps folders of /workflow, /tmp's
// session folders and /etc/profile.d for links to a canary folder on the host, absolute and
// relative, nested, in a tight loop, while the agent runs 1,000 live-sync batches into the tree,
// re-applies the repo with a job user (so every tree is handed to that user), writes profile files,
// serves SFTP and forwards the SSH agent. Whatever fails along the way, the canary keeps its bytes,
// owners and modes, and nothing is added to it.
//
// DSTACK_TEST_AGENT_BIN points the suite at another agent executable (the one before the fix, to see
// that it fails).
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobState, type Job } from '@dstack/core/gen/agent';
import { run, tempDir, waitFor } from '../harness/util';
import { makeKey, writeClientConfig } from '../agent-ssh/client';
import { startAgent, uniqueId, type AgentProcess } from './agent';
import { chunks, manifest, treeSnapshot, uploadTree, type FileSpec } from './trees';

/**
 * Swaps every named folder for a link to the canary (absolute and relative, in turn), then back,
 * forever, as root in the container: Python, so a swap is two syscalls and not two processes.
 */
const SWAPPER = `
import os, sys, glob
os.chdir('/workflow')
dirs = ['a', 'a/b', 'a/b/c', 'sub', '/etc/profile.d', os.environ['HOME_DIR']]
targets = [os.environ['ABS'], os.environ['REL']]
i = 0
while True:
    i += 1
    t = targets[i % 2]
    for d in dirs:
        try:
            if os.path.isdir(d) and not os.path.islink(d):
                os.rename(d, d + '.swap')
                os.symlink(t, d)
        except OSError:
            pass
    for f in glob.glob('/tmp/dstack-*/*'):
        try:
            if not os.path.islink(f):
                os.unlink(f)
                os.symlink(os.environ['ABS'] + '/keep.txt', f)
        except OSError:
            pass
    for d in reversed(dirs):
        try:
            if os.path.islink(d) and os.path.isdir(d + '.swap'):
                os.unlink(d)
                os.rename(d + '.swap', d)
        except OSError:
            pass
`;

describe('a job that swaps its folders for links to host folders while the agent works', () => {
  let agent: AgentProcess;
  let cleanup: () => Promise<void>;
  const scratch = tempDir('races');
  const canary = join(scratch.path, 'canary');
  let before: Record<string, string>;

  beforeAll(async () => {
    mkdirSync(join(canary, 'sub/deeper'), { recursive: true });
    writeFileSync(join(canary, 'keep.txt'), 'keep\n', { mode: 0o644 });
    writeFileSync(join(canary, 'sub/deeper/secret'), 'secret\n', { mode: 0o600 });
    writeFileSync(join(canary, 'dstack.sh'), "not the agent's\n", { mode: 0o644 });
    chownSync(join(canary, 'sub'), 1234, 1234);
    chmodSync(join(canary, 'sub/deeper'), 0o700);
    before = treeSnapshot(canary);
    ({ agent, cleanup } = await startAgent({ DOCKER_HOST: inject('dockerHost'), DSTACK_AGENT_SFTP: 'own' }));
  });
  let sshAgent: ReturnType<typeof spawn> | undefined;
  afterAll(async () => {
    sshAgent?.kill();
    await cleanup?.();
    scratch.cleanup();
  });

  /** Starts the swapper in the job's container as soon as it exists; resolves with the container id. */
  async function swapIn(jobId: string): Promise<string> {
    const job = await waitFor(
      `job ${jobId}'s container`,
      async () => {
        const j: Job = await agent.getJob(jobId);
        return j.status!.containerId ? j : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 20 },
    );
    const id = job.status!.containerId;
    // Relative: enough ".." to reach "/" from any depth of the code dir on the host, then the canary.
    const rel = `${'../'.repeat(40)}${canary.slice(1)}`;
    // It ends with the container (RemoveJob).
    void run(
      'docker',
      [
        '-H',
        inject('dockerHost'),
        'exec',
        '-u',
        '0',
        '-e',
        `ABS=${canary}`,
        '-e',
        `REL=${rel}`,
        '-e',
        'HOME_DIR=/nonexistent',
        id,
        'python3',
        '-c',
        SWAPPER,
      ],
      {
        timeoutMs: 600_000,
      },
    ).catch(() => {});
    return id;
  }

  it('keeps the host canary as it was through 1,000 live-sync batches, re-applies, profiles, SFTP and agent forwarding', {
    timeout: 900_000,
  }, async () => {
    const t0 = Date.now();
    const say = (what: string) => process.env.DSTACK_TEST_VERBOSE && console.log(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);
    const key = await makeKey(scratch.path, 'id_race');
    const repoId = uniqueId('race-repo');
    const tree: Record<string, FileSpec> = { 'README.md': { content: 'race\n' } };
    for (const d of ['a', 'a/b', 'a/b/c', 'sub']) for (let i = 0; i < 5; i++) tree[`${d}/f${i}.txt`] = { content: `${d} ${i}\n` };

    // An ssh-agent of our own for -A (its socket on our side; the agent makes one in the container).
    const agentSock = join(scratch.path, 'ssh-agent.sock');
    sshAgent = spawn('ssh-agent', ['-D', '-a', agentSock], { stdio: 'ignore' });
    await waitFor('ssh-agent', () => existsSync(agentSock));
    const hung: string[] = [];
    let committed = 0;
    let sent = 0;
    let refused = 0;
    for (let round = 0; round < 3; round++) {
      const jobId = uniqueId(`race${round}`);
      // user nobody: every commit and the start hand the tree over to uid 65534.
      await agent.submit({
        jobId,
        runtime: 'docker',
        image: inject('debianImage'),
        repoId,
        expectCode: true,
        user: 'nobody',
        authorizedKeys: [key.publicKey],
      });
      await swapIn(jobId);
      say(`round ${round}: swapping`);
      await uploadTree(agent, jobId, tree).catch(() => refused++);
      const job = await waitFor(
        `job ${jobId} to run or fail`,
        async () => {
          const j = await agent.getJob(jobId);
          const s = j.status!.state;
          return s === JobState.JOB_STATE_RUNNING || s === JobState.JOB_STATE_FAILED || s === JobState.JOB_STATE_WAITING_CODE
            ? j
            : undefined;
        },
        { timeoutMs: 180_000, intervalMs: 100 },
      );
      if (job.status!.state === JobState.JOB_STATE_WAITING_CODE) {
        // The swapper broke the first commit: send it again until one lands.
        await waitFor(
          'a first commit that lands',
          async () =>
            await uploadTree(agent, jobId, tree).then(
              () => true,
              () => false,
            ),
          { timeoutMs: 60_000, intervalMs: 50 },
        );
      }

      say(`round ${round}: ${JobState[job.status!.state]}`);
      const batches = Number(process.env.DSTACK_TEST_RACE_BATCHES ?? (round === 0 ? 1000 : 100));
      const sftpAndForwarding = (async () => {
        const j = await agent.getJob(jobId);
        if (!j.status!.sshPort) return;
        const config = writeClientConfig(scratch.path, j.status!.sshPort, j.status!.sshHostKey, key.path, `ssh_config_${round}`);
        const upload = join(scratch.path, 'up.txt');
        writeFileSync(upload, 'uploaded\n');
        for (let n = 0; n < 10; n++) {
          const batch = [
            `put ${upload} /workflow/a/b/c/up${n}.txt`,
            `mkdir /workflow/a/b/d${n}`,
            `chmod 4755 /workflow/a/b/c/up${n}.txt`,
            `rename /workflow/a/b/c/up${n}.txt /workflow/sub/up${n}.txt`,
            `rm /workflow/sub/up${n}.txt`,
            'ls /workflow/a/b',
          ].join('\n');
          // Each may fail (a folder is a link just then), but none may hang.
          const sftp = await run('sftp', ['-F', config, '-b', '-', 'job'], { input: `${batch}\n`, timeoutMs: 60_000 });
          const ssh = await run(
            'ssh',
            ['-F', config, '-A', 'job', 'ls -la "$SSH_AUTH_SOCK" /workflow/a/b; echo x > /workflow/a/b/c/ssh.txt'],
            {
              timeoutMs: 30_000,
              env: { ...process.env, SSH_AUTH_SOCK: agentSock },
            },
          );
          if (sftp.signal || ssh.signal) {
            hung.push(`round ${round}: ${sftp.signal ? 'sftp' : 'ssh'} ${n}: ${(sftp.signal ? sftp : ssh).stderr.slice(-2000)}`);
            if (process.env.DSTACK_TEST_VERBOSE) {
              const cid = (await agent.getJob(jobId)).status!.containerId;
              const ps = await run(
                'docker',
                ['-H', inject('dockerHost'), 'exec', '-u', '0', cid, 'sh', '-c', 'ps -ef; ls -la /tmp /tmp/dstack-*'],
                { timeoutMs: 20_000 },
              );
              console.log(hung[hung.length - 1], ps.stdout, ps.stderr, agent.log().split('\n').slice(-30).join('\n'));
            }
          }
        }
      })();
      sent += batches;
      for (let i = 0; i < batches; i++) {
        const step: Record<string, FileSpec> = {
          [`a/b/c/f${i % 5}.txt`]: { content: `batch ${round}.${i}\n` },
          [`sub/n${i}.txt`]: { content: `n ${i}\n` },
        };
        const removed = i > 0 ? [`sub/n${i - 1}.txt`] : [];
        try {
          const m = await agent.putManifest({ jobId, full: false, entries: manifest(step), removed });
          if (m.missing.length) await agent.putBlobs(chunks(m.uploadId, step, m.missing, 1 << 20));
          await agent.commitCode(m.uploadId);
          committed++;
        } catch {
          refused++; // a folder on the way was a link just then: refused, as it should be
        }
      }
      say(`round ${round}: batches done (${committed} committed, ${refused} refused)`);
      await sftpAndForwarding;
      say(`round ${round}: sftp done`);
      expect(treeSnapshot(canary)).toEqual(before);
      await agent.stopJob(jobId, true);
      await agent.removeJob(jobId);
    }
    expect(treeSnapshot(canary)).toEqual(before);
    expect(hung).toEqual([]);
    // The batches did run: most of them landed between swaps, the rest were refused.
    expect(committed).toBeGreaterThan(sent / 10);
    expect(committed + refused).toBeGreaterThanOrEqual(sent);
  });
});
