// kill -9 the agent while a job runs, start it again on the same data dir: the job is still running
// (same container or host process), its log continues after the old lines, and SSH answers again on
// the same port with the same host key. Once per runtime.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobState } from '@dstack/core/gen/agent';
import { docker } from '../harness/docker';
import { mustRun, waitFor } from '../harness/util';
import { jobSshKey, startAgent, uniqueId, type AgentProcess } from './agent';
import { pgrepJob } from './job-suite';

const jobKey = jobSshKey();
const ssh = (port: number, command: string) => jobKey.ssh(port, command);

async function hostKeyAt(port: number): Promise<string> {
  const { stdout } = await mustRun('ssh-keyscan', ['-t', 'ed25519', '-p', String(port), '127.0.0.1'], { timeoutMs: 30_000 });
  const line = stdout.split('\n').find((l) => l.includes('ssh-ed25519'))!;
  return line.split(' ').slice(1, 3).join(' ');
}

for (const runtime of ['docker', 'host'] as const) {
  describe(`agent restart with a running ${runtime} job`, () => {
    let agent: AgentProcess;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      ({ agent, cleanup } = await startAgent({ DOCKER_HOST: inject('dockerHost') }));
    });
    afterAll(async () => cleanup?.());

    it('finds the job still running after kill -9, with its log and SSH server', async () => {
      const jobId = uniqueId(`restart-${runtime}`);
      const pub = jobKey.publicKey();
      await agent.submit({
        jobId,
        runtime,
        image: runtime === 'docker' ? inject('debianImage') : '',
        runName: 'restart-run',
        init: ['echo before-restart'],
        authorizedKeys: [pub],
      });
      const before = await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
      const port = before.status!.sshPort;
      expect(port).toBeGreaterThan(0);
      expect(before.status!.sshHostKey).toMatch(/^ssh-ed25519 /);
      expect(await hostKeyAt(port)).toBe(before.status!.sshHostKey);
      const hello = await ssh(port, 'echo "$DSTACK_RUN_NAME"');
      expect(hello.stdout.trim(), hello.stderr).toBe('restart-run');
      const logsBefore = await agent.getLogs(jobId);
      const pidsBefore = runtime === 'host' ? await pgrepJob(jobId) : [];

      agent.kill9();
      await waitFor('the agent to be gone', () => agent.proc!.exitCode !== null || agent.proc!.signalCode !== null);
      if (runtime === 'docker') {
        const state = (await docker(['inspect', '-f', '{{.State.Running}}', before.status!.containerId])).stdout.trim();
        expect(state).toBe('true');
      } else expect((await pgrepJob(jobId)).length).toBeGreaterThan(0);

      await agent.start();
      agent.subscribe(jobId);
      const after = await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
      expect(after.status!.containerId).toBe(before.status!.containerId);
      expect(after.status!.startedMs).toBe(before.status!.startedMs);
      if (runtime === 'host') expect(await pgrepJob(jobId)).toEqual(expect.arrayContaining(pidsBefore));

      // SSH again, on the same port with the same host key.
      await waitFor('the SSH server to be back', async () => (await hostKeyAt(port)) === before.status!.sshHostKey, { timeoutMs: 60_000 });
      const again = await ssh(port, 'echo "$DSTACK_RUN_NAME" again');
      expect(again.stdout.trim(), again.stderr).toBe('restart-run again');

      // The log kept its old lines and goes on after them.
      const logsAfter = await agent.getLogs(jobId);
      const text = logsAfter.lines.map((l) => Buffer.from(l.data).toString()).join('');
      expect(text).toContain('before-restart\n');
      expect(logsAfter.nextOffset).toBeGreaterThan(logsBefore.nextOffset);
      const newLines = logsAfter.lines.filter((l) => l.offset >= logsBefore.nextOffset);
      expect(newLines.map((l) => Buffer.from(l.data).toString()).join('')).toContain('SSH server listening');

      // And it still stops like any job.
      const stopped = await agent.stopJob(jobId, false, 10);
      expect(stopped.status!.state).toBe(JobState.JOB_STATE_TERMINATED);
      if (runtime === 'host') expect(await pgrepJob(jobId)).toEqual([]);
      else expect((await docker(['ps', '-aq', '--filter', `label=ai.dstack.job-id=${jobId}`])).stdout.trim()).toBe('');
    });
  });
}
