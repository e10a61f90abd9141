// A re-apply of a repo on the same agent starts from the tree its previous job left (kept at
// RemoveJob), and its first commit makes that tree byte for byte what a fresh commit makes: edits
// and files made in the old job are gone, the one change sent is there, modes and owners as new.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JobState } from '@dstack/core/gen/agent';
import { startAgent, uniqueId, type AgentProcess } from './agent';
import { treeSnapshot, uploadTree, type FileSpec } from './trees';

describe('a new job of the same repo reuses the tree of the last one', () => {
  let agent: AgentProcess;
  let cleanup: () => Promise<void>;
  const image = () => inject('debianImage');
  const wd = (jobId: string) => join(agent.dataDir, 'jobs', jobId, 'workflow');

  beforeAll(async () => {
    ({ agent, cleanup } = await startAgent({ DOCKER_HOST: inject('dockerHost') }));
  });
  afterAll(async () => cleanup?.());

  const tree: Record<string, FileSpec> = {
    'train.py': { content: 'print("train")\n' },
    'README.md': { content: 'readme\n' },
    'bin/run.sh': { content: '#!/bin/sh\necho run\n', mode: 0o755 },
    'src/model/layers.py': { content: 'layers = []\n' },
    'src/model/data.py': { content: 'data = {}\n' },
    'link-to-train': { link: 'train.py' },
  };
  for (let i = 0; i < 50; i++) tree[`src/pkg/mod${i}.py`] = { content: `m = ${i}\n` };

  for (const user of ['', 'nobody']) {
    it(`in docker${user ? ` (job user ${user})` : ''}: edits and files made in the old job are gone, the result equals a fresh commit`, async () => {
      const repoId = uniqueId('repo');
      // The old job edits a file, makes files and a folder, and changes a mode, from inside its container.
      const old = uniqueId('old');
      await agent.submit({
        jobId: old,
        runtime: 'docker',
        image: image(),
        repoId,
        expectCode: true,
        user,
        init: [
          'echo "edited in the old job" >> train.py && echo new > made-in-job.txt && mkdir -p .cache/x && echo c > .cache/x/y && chmod 600 README.md',
        ],
      });
      await agent.waitState(old, JobState.JOB_STATE_WAITING_CODE);
      const first = await uploadTree(agent, old, tree);
      expect(first.commit.written).toBe(Object.keys(tree).length);
      await agent.waitState(old, JobState.JOB_STATE_RUNNING);
      expect(readFileSync(join(wd(old), 'train.py'), 'utf8')).toContain('edited in the old job');
      await agent.stopJob(old, true);
      await agent.removeJob(old);
      expect(existsSync(join(agent.dataDir, 'jobs', old))).toBe(false);

      // The re-apply, with one file changed locally.
      const next = { ...tree, 'src/model/data.py': { content: `data = {"v": "${repoId}"}\n` } };
      const reused = uniqueId('reused');
      await agent.submit({ jobId: reused, runtime: 'docker', image: image(), repoId, expectCode: true, user, init: ['cat train.py'] });
      await agent.waitState(reused, JobState.JOB_STATE_WAITING_CODE);
      expect(await agent.logText(reused)).toContain(`code dir: starting from the tree job ${old} left`);
      const second = await uploadTree(agent, reused, next);
      expect(second.manifest.missing).toHaveLength(1);
      // train.py (edited there) and data.py (changed here) are written; the 54 others stay.
      expect(second.commit).toMatchObject({ written: 2, conflicts: [] });
      expect(second.commit.removed).toBe(2); // made-in-job.txt, .cache
      expect(await agent.logText(reused)).toMatch(/code committed in [\d.]+ s: 2 written, 2 removed, 54 unchanged/);

      // A job of another repo gets the same tree fresh.
      const fresh = uniqueId('fresh');
      await agent.submit({ jobId: fresh, runtime: 'docker', image: image(), repoId: uniqueId('other-repo'), expectCode: true, user });
      await agent.waitState(fresh, JobState.JOB_STATE_WAITING_CODE);
      expect(await agent.logText(fresh)).not.toContain('starting from the tree');
      expect((await uploadTree(agent, fresh, next)).commit.written).toBe(Object.keys(next).length);

      expect(readFileSync(join(wd(reused), 'train.py'), 'utf8')).toBe('print("train")\n');
      // Both start, and (with a user) both trees are given to it alike. The trees are compared once
      // both run: with a job user, each container's start hands its tree to that user, and the two
      // jobs reach that step at different moments (comparing before it raced, owners differing).
      await agent.waitState(reused, JobState.JOB_STATE_RUNNING);
      await agent.waitState(fresh, JobState.JOB_STATE_RUNNING);
      expect(treeSnapshot(wd(reused))).toEqual(treeSnapshot(wd(fresh)));
      expect(await agent.logText(reused)).toContain('print("train")\n');
      for (const j of [reused, fresh]) await agent.removeJob(j);
    });
  }

  it('a job without code keeps nothing, and a job of a repo with no kept tree starts empty', async () => {
    const repoId = uniqueId('repo');
    const noCode = uniqueId('nocode');
    await agent.submit({ jobId: noCode, runtime: 'host', repoId });
    await agent.waitState(noCode, JobState.JOB_STATE_RUNNING);
    await agent.removeJob(noCode);
    const next = uniqueId('next');
    await agent.submit({ jobId: next, runtime: 'host', repoId, expectCode: true });
    await agent.waitState(next, JobState.JOB_STATE_WAITING_CODE);
    expect(treeSnapshot(wd(next))).toEqual({});
    expect(await agent.logText(next)).not.toContain('starting from the tree');
    await agent.removeJob(next);
  });
});
