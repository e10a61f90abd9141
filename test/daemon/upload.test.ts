// Code upload: a re-apply sends only what changed (the agent keeps blobs by hash, the daemon keeps
// hashes by path, size, mtime and inode); a plain folder is uploaded whole minus .dstackignore.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMALL, Sandbox, configSource, gitRepo, runName } from './helpers';

let sb: Sandbox;
beforeAll(async () => {
  sb = new Sandbox('upload');
  await sb.start();
});
afterAll(async () => {
  await sb?.cleanup();
});

function uploadLine(text: string): string {
  const lines = text.split('\n').filter((l) => l.startsWith('Uploaded the repo'));
  return lines[lines.length - 1] ?? '';
}

describe('code upload', () => {
  it('sends only the changed file on a re-apply', async () => {
    const repo = await gitRepo(sb.dir);
    mkdirSync(join(repo, 'src'));
    for (let i = 0; i < 200; i++) writeFileSync(join(repo, 'src', `m${i}.py`), `print(${i})\n`);
    const name = runName('reup');
    const cfg = configSource(`type: dev-environment\nname: ${name}\n${SMALL}`);
    await sb.apply({ configuration: cfg, repoDir: repo });
    await sb.waitForRun(name, (r) => r.status === 'running' && r.sshAlias === name, 'running');
    const bytes = 18 + 17 + 18 + 12 + Array.from({ length: 200 }, (_, i) => `print(${i})\n`.length).reduce((a, b) => a + b, 0);
    expect(uploadLine(await sb.logText(name))).toBe(`Uploaded the repo: 204 files, 204 sent (${bytes} bytes), 204 rehashed`);
    await sb.stop(name);

    writeFileSync(join(repo, 'src', 'm7.py'), 'print("changed")\n');
    await sb.apply({ configuration: cfg, repoDir: repo });
    await sb.waitForRun(name, (r) => r.status === 'running' && r.sshAlias === name, 'running again');
    expect(uploadLine(await sb.logText(name))).toBe('Uploaded the repo: 204 files, 1 sent (17 bytes), 1 rehashed');
    expect((await sb.ssh(name, 'cat /workflow/src/m7.py /workflow/src/m8.py')).stdout).toBe('print("changed")\nprint(8)\n');
  });

  it('uploads a folder that is not a git repo whole, minus .dstackignore', async () => {
    const dir = join(sb.dir, 'plain');
    mkdirSync(join(dir, 'data'), { recursive: true });
    writeFileSync(join(dir, 'train.py'), 'print("train")\n');
    writeFileSync(join(dir, 'data', 'big.bin'), 'x'.repeat(100));
    writeFileSync(join(dir, '.dstackignore'), 'data/\n');
    const name = runName('plain');
    await sb.apply({ configuration: configSource(`type: dev-environment\nname: ${name}\n${SMALL}`), repoDir: dir });
    await sb.waitForRun(name, (r) => r.status === 'running' && r.sshAlias === name, 'running');
    const ls = await sb.ssh(name, 'cd /workflow && find . -type f | sort');
    expect(ls.stdout.split('\n').filter(Boolean)).toEqual(['./.dstackignore', './train.py']);
    await sb.stop(name);
  });
});
