import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { localIdeVersion } from './ide-version';

const dir = mkdtempSync(join(tmpdir(), 'dstack-ide-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fakeCommand(name: string, script: string): NodeJS.ProcessEnv {
  const bin = join(dir, name);
  writeFileSync(bin, `#!/bin/sh\n${script}\n`);
  chmodSync(bin, 0o755);
  return { PATH: `${dir}:/usr/bin:/bin` };
}

describe('localIdeVersion', () => {
  it('reads the commit from `code --version`', () => {
    const env = fakeCommand('code', 'printf "1.96.2\\nfabdb6a30b49f79a7aba0f2ad9df9b399473380f\\nx64\\n"');
    expect(localIdeVersion('vscode', env)).toEqual({ commit: 'fabdb6a30b49f79a7aba0f2ad9df9b399473380f' });
  });

  it('reads `cursor --version` for Cursor', () => {
    const env = fakeCommand('cursor', 'printf "0.45.0\\n1111111111222222222233333333334444444444\\nx64\\n"');
    expect(localIdeVersion('cursor', env)).toEqual({ commit: '1111111111222222222233333333334444444444' });
  });

  it('says in one line how to fix a missing command', () => {
    const r = localIdeVersion('windsurf', { PATH: '/nonexistent' });
    expect(r && 'problem' in r && r.problem).toMatch(
      /^could not read the local Windsurf version \(`windsurf --version`: not found\): install the `windsurf` command .* or set `version:`/,
    );
    expect(r && 'problem' in r && r.problem.includes('\n')).toBe(false);
  });

  it('says so when the output has no commit or the command fails', () => {
    const env = fakeCommand('code', 'echo "something else"; exit 3');
    const r = localIdeVersion('vscode', env);
    expect(r && 'problem' in r && r.problem).toMatch(
      /^could not read the local VS Code version \(`code --version`: exited with 3\): install the `code` command/,
    );
    const noCommit = localIdeVersion('vscode', fakeCommand('code', 'echo 1.96.2'));
    expect(noCommit && 'problem' in noCommit && noCommit.problem).toMatch(/\(`code --version`: no commit in its output\)/);
  });

  it('has nothing to read for IDEs without such a server', () => {
    expect(localIdeVersion('zed')).toBeUndefined();
  });
});
