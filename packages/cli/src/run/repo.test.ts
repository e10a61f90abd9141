import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoDirFor } from './repo';

const root = mkdtempSync(join(tmpdir(), 'dstack-repo-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('repoDirFor', () => {
  it('is the top of the git repo holding the file, from any depth', () => {
    const repo = join(root, 'repo');
    mkdirSync(join(repo, '.git'), { recursive: true });
    mkdirSync(join(repo, 'sub', 'deeper'), { recursive: true });
    expect(repoDirFor(join(repo, '.dstack.yml'))).toBe(repo);
    expect(repoDirFor(join(repo, 'sub', 'deeper', 'dev.dstack.yml'))).toBe(repo);
  });

  it('knows a worktree by its .git file', () => {
    const wt = join(root, 'worktree');
    mkdirSync(wt);
    writeFileSync(join(wt, '.git'), 'gitdir: /elsewhere\n');
    expect(repoDirFor(join(wt, 'x.dstack.yml'))).toBe(wt);
  });

  it("is the file's own folder outside git", () => {
    const plain = join(root, 'plain', 'project');
    mkdirSync(plain, { recursive: true });
    // tmpdir() itself is not inside a git repo on any sane machine
    expect(repoDirFor(join(plain, '.dstack.yml'))).toBe(plain);
  });
});
