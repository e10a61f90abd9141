// A job's secrets (JobSpec.secret_env) on the agent: every process of the job has them (init, SSH
// sessions, login shells through the profile), yet they are in no file of the agent's data dir, in
// no answer, and not in the container's config. After kill -9 of the agent the job waits for them
// (its new sessions too) and SetJobSecrets brings them back. Host-mode jobs get the job's env on a
// minimal base, not the agent's own environment. Once per runtime.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobState, type Activity } from '@dstack/core/gen/agent';
import { docker } from '../harness/docker';
import { waitFor } from '../harness/util';
import { jobSshKey, startAgent, uniqueId, type AgentProcess } from './agent';

const jobKey = jobSshKey();
const ssh = (port: number, command: string) => jobKey.ssh(port, command, 120_000);

/** Files of the data dir (all of them: job.json, logs, the agent's log, env.sh, blobs...) holding `needle`. */
function filesHolding(dir: string, needle: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name))
    .filter((p) => statSync(p).size < 64 << 20 && readFileSync(p).includes(needle));
}

for (const runtime of ['docker', 'host'] as const) {
  describe(`secret env of a ${runtime} job`, () => {
    let agent: AgentProcess;
    let cleanup: () => Promise<void>;
    const SECRET = `s3cret-${runtime}-${Math.random().toString(36).slice(2)}`;

    beforeAll(async () => {
      // A variable of the agent's own environment: a host-mode job must not see it.
      ({ agent, cleanup } = await startAgent({ DOCKER_HOST: inject('dockerHost'), AGENT_ONLY_VAR: 'agent-side' }));
    });
    afterAll(async () => cleanup?.());

    it('reaches init, sessions and login shells; rests in no file, answer or container config; comes back after a restart', async () => {
      const jobId = uniqueId(`secrets-${runtime}`);
      const pub = jobKey.publicKey();
      const submitted = await agent.submit({
        jobId,
        runtime,
        image: runtime === 'docker' ? inject('debianImage') : '',
        env: { PLAIN: 'plain-value' },
        secretEnv: { TOKEN: SECRET },
        // The job's log is a file of the data dir: init shows a digest of the value, not the value.
        init: ['echo "init token-sha=$(printf %s "$TOKEN" | sha256sum | cut -c1-16) plain=$PLAIN agent=[$AGENT_ONLY_VAR]"'],
        authorizedKeys: [pub],
      });
      expect(submitted.spec!.secretEnv).toEqual({ TOKEN: '***' });
      const job = await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
      const sha = createHash('sha256').update(SECRET).digest('hex').slice(0, 16);
      expect(await agent.logText(jobId)).toContain(`init token-sha=${sha} plain=plain-value agent=[]\n`);
      const port = job.status!.sshPort;
      const session = await ssh(port, 'echo "ssh token=$TOKEN agent=[$AGENT_ONLY_VAR]"');
      expect(session.stdout, session.stderr).toBe(`ssh token=${SECRET} agent=[]\n`);

      // Answers name the secret, never its value.
      expect((await agent.getJob(jobId)).spec!.secretEnv).toEqual({ TOKEN: '***' });
      const listed = (await agent.listJobs()).jobs.find((j) => j.spec!.jobId === jobId)!;
      expect(listed.spec!.secretEnv).toEqual({ TOKEN: '***' });
      expect(JSON.stringify(listed)).not.toContain(SECRET);
      expect(filesHolding(agent.dataDir, SECRET)).toEqual([]);

      if (runtime === 'docker') {
        const cid = job.status!.containerId;
        const env = JSON.parse((await docker(['inspect', '-f', '{{json .Config.Env}}', cid])).stdout) as string[];
        expect(env).toContain('PLAIN=plain-value');
        expect(env.join('\n')).not.toContain(SECRET);
        // The profile has it for login shells, and is root's alone (the job's user here).
        expect((await docker(['exec', cid, 'stat', '-c', '%a %U', '/etc/profile.d/dstack.sh'])).stdout.trim()).toBe('600 root');
        expect((await docker(['exec', cid, 'env', '-i', '/bin/sh', '-lc', 'echo "$TOKEN"'])).stdout.trim()).toBe(SECRET);
      } else {
        const envSh = readFileSync(join(agent.dataDir, 'jobs', jobId, 'env.sh'), 'utf8');
        expect(envSh).toMatch(/^export PLAIN='?plain-value'?$/m);
        expect(envSh).toContain('# Secret, not written here (every process of the job has them): TOKEN');
      }

      // kill -9: the new agent has no secrets; the job says so and its new sessions wait for them.
      agent.kill9();
      await waitFor('the agent to be gone', () => agent.proc!.exitCode !== null || agent.proc!.signalCode !== null);
      await agent.start();
      agent.subscribe(jobId);
      const waiting = await agent.getJob(jobId);
      expect(waiting.status).toMatchObject({ state: JobState.JOB_STATE_RUNNING, awaitingSecrets: true });
      const pending = ssh(port, 'echo "after restart token=$TOKEN"');
      await agent.waitEvent(
        'the session to be open and waiting',
        (e) => e.jobId === jobId && e.payload?.$case === 'activity' && (e.payload.value as Activity).execSessions > 0,
      );

      await expect(agent.setJobSecrets({ jobId, secretEnv: {}, registryAuth: undefined })).rejects.toMatchObject({
        code: 3,
        details: 'secret_env lacks TOKEN: the job was submitted with it',
      });
      await expect(agent.setJobSecrets({ jobId, secretEnv: { TOKEN: 'x', OTHER: 'y' }, registryAuth: undefined })).rejects.toMatchObject({
        code: 3,
      });
      const back = await agent.setJobSecrets({ jobId, secretEnv: { TOKEN: SECRET }, registryAuth: undefined });
      expect(back.status!.awaitingSecrets).toBe(false);
      expect(back.spec!.secretEnv).toEqual({ TOKEN: '***' });
      const after = await pending;
      expect(after.stdout, after.stderr).toBe(`after restart token=${SECRET}\n`);
      expect(filesHolding(agent.dataDir, SECRET)).toEqual([]);

      const stopped = await agent.stopJob(jobId, false, 10);
      expect(stopped.status!.state).toBe(JobState.JOB_STATE_TERMINATED);
    });
  });
}
