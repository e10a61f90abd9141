// A re-apply of the same repo starts the new job from the code dir the last one left on the agent
// (the agent keeps it at RemoveJob): its /workflow is the repo as it is locally, byte for byte,
// whatever the old run did in its /workflow (edits, new files, a changed mode).
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMALL, Sandbox, configSource, gitRepo, runName } from './helpers';

let sb: Sandbox;
beforeAll(async () => {
  sb = new Sandbox('reapply-tree');
  await sb.start();
});
afterAll(async () => {
  await sb?.cleanup();
});

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('re-apply', () => {
  it('starts from the last tree of the repo and makes it exactly the local repo', async () => {
    const repo = await gitRepo(sb.dir);
    const name = runName('retree');
    const cfg = configSource(`type: dev-environment\nname: ${name}\n${SMALL}`);
    await sb.apply({ configuration: cfg, repoDir: repo });
    await sb.waitForRun(name, (r) => r.status === 'running' && r.sshAlias === name, 'running');
    const edit = await sb.ssh(
      name,
      'cd /workflow && echo "edited in the run" >> committed.txt && echo new > made-in-run.txt && chmod 600 modified.txt && echo ok',
    );
    expect(edit.stdout).toBe('ok\n');
    await sb.stop(name);

    writeFileSync(join(repo, 'untracked.txt'), 'untracked-content, changed locally\n');
    await sb.apply({ configuration: cfg, repoDir: repo });
    await sb.waitForRun(name, (r) => r.status === 'running' && r.sshAlias === name, 'running again');
    expect(await sb.logText(name)).toMatch(/code dir: starting from the tree job \S+ left/);
    const listing = await sb.ssh(name, 'cd /workflow && find . -type f | sort | xargs sha256sum && stat -c "%a %n" modified.txt');
    const want = ['.gitignore', 'committed.txt', 'modified.txt', 'untracked.txt'].map((f) => `${sha(join(repo, f))}  ./${f}`);
    expect(listing.stdout).toBe(`${want.join('\n')}\n644 modified.txt\n`);
  });
});
