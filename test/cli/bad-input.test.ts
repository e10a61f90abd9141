// Bad input never leaves half-made state: an invalid file (file:line:col on stderr, exit 1), a
// missing env value (named), a bad flag value (named, exit 2), a question without a terminal
// (exit 2, says -y): no run is created, and the first three never even start the daemon. A run
// whose image does not exist fails with one line saying why (exit 1) and leaves no container.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker } from '../harness/docker';
import { dstack, getRun, listRuns, runName, sandbox, type Sandbox } from './helpers';

let sb: Sandbox;
beforeAll(() => {
  sb = sandbox('bad');
});
afterAll(async () => {
  await sb.cleanup();
});

// Configurations live in a folder of their own (the sandbox's folder also holds DSTACK_HOME).
function file(name: string, text: string): string {
  mkdirSync(join(sb.dir, 'proj'), { recursive: true });
  writeFileSync(join(sb.dir, 'proj', name), text);
  return name;
}

const socket = () => join(sb.dstackHome, 'daemon.sock');
const proj = () => join(sb.dir, 'proj');

describe('bad input', () => {
  it('a bad flag value: the flag named, exit 2, nothing started', async () => {
    const f = file('ok.dstack.yml', 'type: dev-environment\nname: flags\n');
    for (const [flag, value] of [
      ['--gpu', 'A100::2'],
      ['--memory', 'lots'],
      ['--max-price', 'free'],
      ['-e', '9BAD=1'],
    ]) {
      const res = await dstack(sb, ['apply', '-f', f, '-y', '-d', flag, value], { cwd: proj() });
      expect(res.code, `${flag} ${value}`).toBe(2);
      expect(res.stderr).toMatch(new RegExp(`^error: ${flag.replace(/-/g, '\\-')} "${value.replace(/\./g, '\\.')}": `));
    }
    const unknown = await dstack(sb, ['apply', '-f', f, '--frobnicate'], { cwd: proj() });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("error: unknown option '--frobnicate'");
    // Flags are checked before the daemon is asked anything: it was not even started.
    expect(existsSync(socket())).toBe(false);
  });

  it('an invalid configuration: every error at file:line:col (found by the daemon), exit 1, no run', async () => {
    const f = file('invalid.dstack.yml', 'type: dev-environment\nname: bad-config\nresources:\n  gpu: 24XB\ninactivity_duration: soon\n');
    const res = await dstack(sb, ['apply', '-f', f, '-y', '-d'], { cwd: proj() });
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    const lines = res.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^invalid\.dstack\.yml:4:8: resources\.gpu: /);
    expect(lines[1]).toMatch(/^invalid\.dstack\.yml:5:22: inactivity_duration: /);
    expect(await listRuns(sb)).toEqual([]);
  });

  it('an env entry without a value: named, exit 1, no run', async () => {
    const f = file(
      'env.dstack.yml',
      'type: dev-environment\nname: needs-env\nenv:\n  - DSTACK_E2E_UNSET_A\n  - DSTACK_E2E_UNSET_B\n  - SET=1\n',
    );
    const res = await dstack(sb, ['apply', '-f', f, '-y', '-d'], { cwd: proj() });
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(
      'error: no value for env DSTACK_E2E_UNSET_A, DSTACK_E2E_UNSET_B: set them in your environment or an --env-file (or pass -e NAME=VALUE, which ps shows)\n',
    );
    expect(await listRuns(sb)).toEqual([]);
  });

  it('a question without a terminal and without -y: exit 2, says to pass -y, nothing created', async () => {
    const name = runName('notty');
    const f = file('notty.dstack.yml', `type: dev-environment\nname: ${name}\n`);
    const res = await dstack(sb, ['apply', '-f', f], { cwd: proj() });
    expect(res.code).toBe(2);
    expect(res.stdout).toMatch(/^ # {2}BACKEND {2}REGION/m);
    expect(res.stderr).toBe(`error: cannot ask "Submit the run ${name}?" without a terminal: pass -y to answer yes\n`);
    expect(await getRun(sb, name)).toBeUndefined();
  });

  it('an image that does not exist: the run fails with its reason in one line, exit 1, no container left', async () => {
    const name = runName('noimage');
    const f = file('noimage.dstack.yml', `type: dev-environment\nname: ${name}\nimage: dstack-test/no-such-image:1\n`);
    const res = await dstack(sb, ['apply', '-f', f, '-y', '-d'], { cwd: proj() });
    expect(res.code).toBe(1);
    const errLines = res.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('error:'));
    expect(errLines).toHaveLength(1);
    expect(errLines[0]).toMatch(new RegExp(`^error: run ${name} failed: \\S+`));
    const r = await getRun(sb, name);
    expect(r!.status).toBe('failed');
    expect(r!.terminationReason).toBeTruthy();
    const ps = await docker(['ps', '-a', '--format', '{{.Names}} {{.Image}}']);
    expect(ps.stdout).not.toContain('no-such-image');
  });
});
