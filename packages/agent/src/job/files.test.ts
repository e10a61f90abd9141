// `files:` written into a folder standing in for a container's root (what /proc/<pid>/root is to the
// agent): modes kept, the job user's ownership, `~` and relative paths placed, and links the job
// planted (at the target, or on the way) never lead a write out of the root.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { JobFile, JobSpec } from '@dstack/core/gen/agent';
import type { Runtime, RuntimeJob } from '../runtime/runtime';
import { putJobFiles, stashFiles, targetPath, withoutContent } from './files';

const base = mkdtempSync(join(tmpdir(), 'job-files-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const file = (path: string, content: string, mode = 0o644): JobFile => ({
  path,
  mode,
  dir: false,
  content: Buffer.from(content),
  linkTarget: '',
});
const USER = { name: 'me', uid: 4321, gid: 4322, home: '/home/me' };

/** A root with the image's folders, a job dir holding the stash, and the job the runtime sees. */
function setup(files: JobFile[]) {
  const root = mkdtempSync(join(base, 'root-'));
  mkdirSync(join(root, 'home/me'), { recursive: true });
  mkdirSync(join(root, 'workflow'));
  const jobDir = mkdtempSync(join(base, 'job-'));
  stashFiles(jobDir, files);
  const notes: string[] = [];
  const job = { spec: { files: withoutContent(files) } as unknown as JobSpec, note: (m: string) => notes.push(m) } as unknown as RuntimeJob;
  const runtime = { fsRoot: async () => ({ root, user: USER, workflow: '/workflow' }) } as unknown as Runtime;
  return { root, jobDir, job, runtime, notes };
}

describe('targetPath', () => {
  it.each([
    ['~', '/home/me'],
    ['~/.ssh/id_rsa', '/home/me/.ssh/id_rsa'],
    ['data/x', '/w/data/x'],
    ['/workflow', '/w'],
    ['/workflow/a', '/w/a'],
    ['/etc/x', '/etc/x'],
  ])('%s → %s', (path, want) => {
    expect(targetPath(path, '/home/me', '/w')).toBe(want);
  });
});

describe('putJobFiles', () => {
  it('writes files and folders with their modes, owned by the job user', async () => {
    const s = setup([
      file('/opt/tool/run.sh', '#!/bin/sh\n', 0o750),
      file('~/.ssh/id_rsa', 'KEY', 0o600),
      file('rel/notes.txt', 'notes'),
      { path: '/srv/empty', mode: 0o700, dir: true, content: Buffer.alloc(0), linkTarget: '' },
    ]);
    await putJobFiles(s.runtime, s.job, s.jobDir);
    const at = (p: string) => statSync(join(s.root, p));
    expect(readFileSync(join(s.root, 'opt/tool/run.sh'), 'utf8')).toBe('#!/bin/sh\n');
    expect(at('opt/tool/run.sh').mode & 0o777).toBe(0o750);
    expect(at('home/me/.ssh/id_rsa').mode & 0o777).toBe(0o600);
    expect(readFileSync(join(s.root, 'workflow/rel/notes.txt'), 'utf8')).toBe('notes');
    expect(at('srv/empty').isDirectory()).toBe(true);
    expect(at('srv/empty').mode & 0o777).toBe(0o700);
    for (const p of ['opt/tool/run.sh', 'opt/tool', 'home/me/.ssh', 'home/me/.ssh/id_rsa', 'workflow/rel/notes.txt']) {
      expect([at(p).uid, at(p).gid], p).toEqual([USER.uid, USER.gid]);
    }
    expect(s.notes).toEqual(['files: wrote 3 files (18 bytes)']);
  });

  it('replaces a link planted at the target instead of writing through it', async () => {
    const victim = join(base, 'victim');
    writeFileSync(victim, 'host file');
    const s = setup([file('/data/f', 'from files')]);
    mkdirSync(join(s.root, 'data'));
    symlinkSync(victim, join(s.root, 'data/f'));
    await putJobFiles(s.runtime, s.job, s.jobDir);
    expect(readFileSync(victim, 'utf8')).toBe('host file');
    expect(lstatSync(join(s.root, 'data/f')).isFile()).toBe(true);
    expect(readFileSync(join(s.root, 'data/f'), 'utf8')).toBe('from files');
  });

  it('follows a link on the way inside the root only', async () => {
    const hostDir = mkdtempSync(join(base, 'host-dir-'));
    const s = setup([file('/data/sub/f', 'x')]);
    // An absolute link to a host folder: inside the root it names the root's own path of that name.
    symlinkSync(hostDir, join(s.root, 'data'));
    await putJobFiles(s.runtime, s.job, s.jobDir);
    expect(existsSync(join(hostDir, 'sub'))).toBe(false);
    expect(readFileSync(join(s.root, hostDir, 'sub/f'), 'utf8')).toBe('x');
  });

  it('keeps the bytes out of what job.json holds', () => {
    expect(withoutContent([file('/a', 'secret')])[0].content).toHaveLength(0);
  });
});
