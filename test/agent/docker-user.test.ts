// A docker job with `user`: init, the profile and the code belong to that user, not to root.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobState } from '@dstack/core/gen/agent';
import { docker } from '../harness/docker';
import { startAgent, uniqueId, type AgentProcess } from './agent';

describe('docker job with a user', () => {
  let agent: AgentProcess;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ agent, cleanup } = await startAgent({ DOCKER_HOST: inject('dockerHost') }));
  });
  afterAll(async () => cleanup?.());

  it('runs init as the user, who owns the code and sees the env in a login shell', async () => {
    const jobId = uniqueId('user');
    await agent.submit({
      jobId,
      runtime: 'docker',
      image: inject('debianImage'),
      user: 'nobody',
      env: { FOO: 'bar' },
      expectCode: true,
      init: ['id -un', 'echo edited-by-init >> notes.txt'],
    });
    await agent.waitState(jobId, JobState.JOB_STATE_WAITING_CODE);
    const content = 'first line\n';
    const sha = createHash('sha256').update(content).digest('hex');
    const m = await agent.putManifest({
      jobId,
      full: true,
      removed: [],
      entries: [{ path: 'notes.txt', mode: 0o644, size: content.length, sha256: sha, symlinkTarget: '', directory: false }],
    });
    await agent.putBlobs(m.missing.map((s) => ({ uploadId: m.uploadId, sha256: s, data: Buffer.from(content), last: true, blobs: [] })));
    await agent.commitCode(m.uploadId);
    const job = await agent.waitState(jobId, JobState.JOB_STATE_RUNNING);
    expect(await agent.logText(jobId)).toContain('nobody\n');
    const cid = job.status!.containerId;
    expect((await docker(['exec', cid, 'cat', '/workflow/notes.txt'])).stdout).toBe('first line\nedited-by-init\n');
    expect((await docker(['exec', cid, 'stat', '-c', '%U', '/workflow', '/workflow/notes.txt'])).stdout).toBe('nobody\nnobody\n');
    expect((await docker(['exec', '-u', 'nobody', cid, 'env', '-i', 'sh', '-lc', 'echo "$FOO"'])).stdout.trim()).toBe('bar');
  });
});
