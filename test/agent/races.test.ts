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
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobState, type Job } from '@dstack/core/gen/agent';
import { run, tempDir, waitFor } from '../harness/util';
import { makeKey, writeClientConfig } from '../agent-ssh/client';
import { startAgent, uniqueId, type AgentProcess } from './agent';
import { chunks, manifest, treeSnapshot, uploadTree, type FileSpec } from './trees';

/** Swaps every named folder for a link to the canary, then back, forever (root in the container). */
const SWAPPER = `
cd /workflow || exit 1
i=0
while :; do
  i=$((i+1))
  if [ $((i % 2)) = 0 ]; then t="$ABS"; else t="$REL"; fi
  for d in a a/b a/b/c sub /etc/profile.d "$HOME_DIR"; do
    if [ -d "$d" ] && [ ! -L "$d" ]; then mv "$d" "$d.swap" 2>/dev/null && ln -s "$t" "$d" 2>/dev/null; fi
  done
  for f in /tmp/dstack-*/*; do [ -e "$f" ] || [ -L "$f" ] || continue; [ -L "$f" ] || { rm -f "$f"; ln -s "$ABS/keep.txt" "$f"; }; done 2>/dev/null
  for d in "$HOME_DIR" /etc/profile.d sub a/b/c a/b a; do
    if [ -L "$d" ] && [ -d "$d.swap" ]; then rm -f "$d" && mv "$d.swap" "$d" 2>/dev/null; fi
  done
done`;

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
    writeFileSync(join(canary, 'dstack.sh'), 'not the agent\'s\n', { mode: 0o644 });
    chownSync(join(canary, 'sub'), 1234, 1234);
    chmodSync(join(canary, 'sub/deeper'), 0o700);
    before = treeSnapshot(canary);
    ({ agent, cleanup } = await startAgent({ DOCKER_HOST: inject('dockerHost'), DSTACK_AGENT_SFTP: 'own' }));
  });
  afterAll(async () => {
    await cleanup?.();
    scratch.cleanup();
  });

  /** Starts the swapper in the job's container as soon as it exists; resolves with the container id. */
  async function swapIn(jobId: string): Promise<string> {
    const job = await waitFor(`job ${jobId}'s container`, async () => {
      const j: Job = await agent.getJob(jobId);
      return j.status!.containerId ? j : undefined;
    }, { timeoutMs: 120_000, intervalMs: 20 });
    const id = job.status!.containerId;
    // Relative: enough ".." to reach "/" from any depth of the work dir on the host, then the canary.
    const rel = `${'../'.repeat(40)}${canary.slice(1)}`;
    // It ends with the container (RemoveJob).
    void run('docker', ['-H', inject('dockerHost'), 'exec', '-u', '0', '-e', `ABS=${canary}`, '-e', `REL=${rel}`, '-e', 'HOME_DIR=/nonexistent', id, 'sh', '-c', SWAPPER], {
      timeoutMs: 600_000,
    }).catch(() => {});
    return id;
  }

  it('keeps the host canary as it was through 1,000 live-sync batches, re-applies, profiles, SFTP and agent forwarding', async () => {
    const key = await makeKey(scratch.path, 'id_race');
    const repoId = uniqueId('race-repo');
    const tree: Record<string, FileSpec> = { 'README.md': { content: 'race\n' } };
    for (const d of ['a', 'a/b', 'a/b/c', 'sub']) for (let i = 0; i < 5; i++) tree[`${d}/f${i}.txt`] = { content: `${d} ${i}\n` };

    let committed = 0;
    let refused = 0;
    for (let round = 0; round < 3; round++) {
      const jobId = uniqueId(`race${round}`);
      // user nobody: every commit and the start hand the tree over to uid 65534.
      await agent.submit({ jobId, runtime: 'docker', image: inject('debianImage'), repoId, expectCode: true, user: 'nobody', authorizedKeys: [key.publicKey] });
      await swapIn(jobId);
      await uploadTree(agent, jobId, tree).catch(() => refused++);
      const job = await waitFor(`job ${jobId} to run or fail`, async () => {
        const j = await agent.getJob(jobId);
        const s = j.status!.state;
        return s === JobState.JOB_STATE_RUNNING || s === JobState.JOB_STATE_FAILED || s === JobState.JOB_STATE_WAITING_CODE ? j : undefined;
      }, { timeoutMs: 180_000, intervalMs: 100 });
      if (job.status!.state === JobState.JOB_STATE_WAITING_CODE) {
        // The swapper broke the first commit: send it again until one lands.
        await waitFor('a first commit that lands', async () => (await uploadTree(agent, jobId, tree).then(() => true, () => false)), { timeoutMs: 60_000, intervalMs: 50 });
      }

      const batches = round === 0 ? 1000 : 100;
      const sftpAndForwarding = (async () => {
        const j = await agent.getJob(jobId);
        if (!j.status!.sshPort) return;
        const config = writeClientConfig(scratch.path, j.status!.sshPort, j.status!.sshHostKey, key.path, `ssh_config_${round}`);
        const upload = join(scratch.path, 'up.txt');
        writeFileSync(upload, 'uploaded\n');
        for (let n = 0; n < 10; n++) {
          const batch = [`put ${upload} /workflow/a/b/c/up${n}.txt`, `mkdir /workflow/a/b/d${n}`, `chmod 4755 /workflow/a/b/c/up${n}.txt`, `rename /workflow/a/b/c/up${n}.txt /workflow/sub/up${n}.txt`, `rm /workflow/sub/up${n}.txt`, 'ls /workflow/a/b'].join('\n');
          await run('sftp', ['-F', config, '-b', '-', 'job'], { input: `${batch}\n`, timeoutMs: 60_000 }).catch(() => {});
          await run('ssh', ['-F', config, '-A', 'job', 'ls -la "$SSH_AUTH_SOCK" /workflow/a/b; echo x > /workflow/a/b/c/ssh.txt'], {
            timeoutMs: 60_000,
            env: { ...process.env, SSH_AUTH_SOCK: '' },
          }).catch(() => {});
        }
      })();
      for (let i = 0; i < batches; i++) {
        const step: Record<string, FileSpec> = { [`a/b/c/f${i % 5}.txt`]: { content: `batch ${round}.${i}\n` }, [`sub/n${i}.txt`]: { content: `n ${i}\n` } };
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
      await sftpAndForwarding;
      expect(treeSnapshot(canary)).toEqual(before);
      await agent.stopJob(jobId, true);
      await agent.removeJob(jobId);
    }
    expect(treeSnapshot(canary)).toEqual(before);
    // The batches did run: most of them landed between swaps, the rest were refused.
    expect(committed).toBeGreaterThan(100);
    expect(committed + refused).toBeGreaterThanOrEqual(1200);
  });
});
