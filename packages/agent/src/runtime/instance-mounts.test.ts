// Instance volumes on the host side: what is refused on any host, the folder made without following
// a link (modes as dstack's shim sets them), optional mounts left out with a line in the job's log,
// host-mode jobs, and the check of what a running container has mounted (this process's own root
// stands for a container's: /proc/<pid>/root is "/").
import { lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobSpec, Mount } from '@dstack/core/gen/agent';
import { checkMounted, makeSource, mountProblem, prepareMounts, refuseMountsOnHost } from './instance-mounts';
import { JobError } from './runtime';

let dir: string;
const DATA = '/var/lib/agent-data';

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mounts-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const mount = (source: string, target: string, optional = false): Mount => ({ source, target, readOnly: false, optional });

function job(mounts: Mount[]) {
  const notes: string[] = [];
  return { spec: { mounts } as JobSpec, note: (m: string) => notes.push(m), notes };
}

function refusal(fn: () => unknown): JobError {
  try {
    fn();
  } catch (err) {
    if (err instanceof JobError) return err;
    throw err;
  }
  throw new Error('expected a JobError');
}

describe('mountProblem: refused on any host', () => {
  it.each<[Mount, RegExp]>([
    [mount('data', '/data'), /^instance_path "data": expected an absolute path/],
    [mount('/a/../etc', '/data'), /^instance_path "\/a\/..\/etc": expected an absolute path without `..`/],
    [mount('/a/', '/data'), /^instance_path "\/a\/"/],
    [mount('/a', 'data'), /^path "data": expected an absolute path/],
    [mount('/a', '/'), /^path "\/": a volume cannot be mounted over the container's root/],
    [mount('/a', '/workflow'), /^path "\/workflow": \/workflow holds the run's code/],
    [mount('/a', '/workflow/x'), /^path "\/workflow\/x": \/workflow holds/],
    [
      mount(`${DATA}/jobs`, '/x'),
      /^instance_path "\/var\/lib\/agent-data\/jobs" is inside the agent's data dir \(\/var\/lib\/agent-data\)/,
    ],
    [mount(DATA, '/x'), /is inside the agent's data dir/],
    [mount('/var/lib', '/x'), /^instance_path "\/var\/lib" holds the agent's data dir \(\/var\/lib\/agent-data\)/],
    [mount('/', '/x'), /^instance_path "\/" holds the agent's data dir/],
  ])('%j', (m, want) => {
    expect(mountProblem(m, DATA)).toMatch(want);
  });

  it('lets other paths through', () => {
    expect(mountProblem(mount('/var/lib/agent-data2', '/workflows'), DATA)).toBeUndefined();
    expect(mountProblem(mount('/mnt/cache', '/root/.cache'), DATA)).toBeUndefined();
  });
});

describe('makeSource', () => {
  it('makes a missing folder (parents 0755, the folder 0777, as dstack) and leaves an existing one as it is', () => {
    const path = join(dir, 'a/b/vol');
    const made = makeSource(path);
    expect(statSync(join(dir, 'a')).mode & 0o7777).toBe(0o755);
    expect(statSync(join(dir, 'a/b')).mode & 0o7777).toBe(0o755);
    const st = statSync(path);
    expect(st.mode & 0o7777).toBe(0o777);
    expect(made).toEqual({ dev: st.dev, ino: st.ino });
    const kept = join(dir, 'kept');
    mkdirSync(kept, { mode: 0o700 });
    makeSource(kept);
    expect(statSync(kept).mode & 0o7777).toBe(0o700);
  });

  it('refuses a link anywhere on the path, making nothing through it', () => {
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(dir, 'link'));
    expect(() => makeSource(join(dir, 'link'))).toThrow(/\/link is a symbolic link \(to .*elsewhere\): write the path it leads to/);
    expect(() => makeSource(join(dir, 'link/sub'))).toThrow(/\/link is a symbolic link/);
    expect(lstatSync(join(elsewhere), { throwIfNoEntry: false })).toBeDefined();
    expect(lstatSync(join(elsewhere, 'sub'), { throwIfNoEntry: false })).toBeUndefined();
    symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling'));
    expect(() => makeSource(join(dir, 'dangling'))).toThrow(/is a symbolic link/);
    expect(lstatSync(join(dir, 'nowhere'), { throwIfNoEntry: false })).toBeUndefined();
  });

  it('refuses a file', () => {
    writeFileSync(join(dir, 'file'), 'x');
    expect(() => makeSource(join(dir, 'file'))).toThrow(/\/file is not a folder/);
    expect(() => makeSource(join(dir, 'file/sub'))).toThrow(/\/file is not a folder/);
  });
});

describe('prepareMounts', () => {
  it('makes each folder and says so in the log', () => {
    const j = job([mount(join(dir, 'v1'), '/v1'), mount(join(dir, 'v2'), '/v2', true)]);
    const made = prepareMounts(j, DATA);
    expect(made.map((m) => [m.source, m.target])).toEqual([
      [join(dir, 'v1'), '/v1'],
      [join(dir, 'v2'), '/v2'],
    ]);
    expect(j.notes).toEqual([`volume ${join(dir, 'v1')} mounted at /v1`, `volume ${join(dir, 'v2')} mounted at /v2`]);
  });

  it('fails the job with volume_error for a mount that cannot be made, and leaves an optional one out', () => {
    writeFileSync(join(dir, 'file'), 'x');
    const required = refusal(() => prepareMounts(job([mount(join(dir, 'file'), '/data')]), DATA));
    expect(required.reason).toBe('volume_error');
    expect(required.message).toBe(`volumes: instance_path "${join(dir, 'file')}": ${join(dir, 'file')} is not a folder`);
    const j = job([mount(join(dir, 'file'), '/data', true), mount(join(dir, 'ok'), '/ok')]);
    expect(prepareMounts(j, DATA).map((m) => m.target)).toEqual(['/ok']);
    expect(j.notes[0]).toMatch(/is not a folder; it is optional, so the job runs without it at \/data$/);
  });

  it('fails the job for what no host allows, optional or not, and for a path mounted twice', () => {
    const e = refusal(() => prepareMounts(job([mount(join(dir, 'x'), '/workflow/x', true)]), DATA));
    expect([e.reason, e.message]).toEqual([
      'volume_error',
      'volumes: path "/workflow/x": /workflow holds the run\'s code; mount the volume elsewhere',
    ]);
    expect(refusal(() => prepareMounts(job([mount(join(dir, 'a'), '/d'), mount(join(dir, 'b'), '/d')]), DATA)).message).toBe(
      'volumes: path "/d" is mounted twice',
    );
  });
});

describe('refuseMountsOnHost', () => {
  it('fails a host-mode job that needs a mount, and runs one whose mounts are all optional', () => {
    const e = refusal(() => refuseMountsOnHost(job([mount('/a', '/a'), mount('/b', '/b', true)]), DATA));
    expect(e.reason).toBe('volume_error');
    expect(e.message).toMatch(/^volumes: \/a:\/a: instance volumes need a container, and this job runs on the host/);
    const j = job([mount('/b', '/b', true)]);
    refuseMountsOnHost(j, DATA);
    expect(j.notes).toEqual(['volumes: /b:/b left out: this job runs on the host, without a container to mount it in (it is optional)']);
    refuseMountsOnHost(job([]), DATA);
  });
});

describe('checkMounted', () => {
  it('passes the folder the agent held, and names one that is not it', () => {
    const path = join(dir, 'vol');
    const held = { source: path, target: path, readOnly: false, ...makeSource(path) };
    expect(checkMounted(process.pid, [held])).toBeUndefined();
    // Swapped: the same name, another folder (the first kept, so its inode is not reused).
    renameSync(path, join(dir, 'old'));
    mkdirSync(path);
    expect(checkMounted(process.pid, [held])).toBe(
      `volumes: what the container has at ${path} is not the folder ${path} the agent made and checked (it changed meanwhile); the job is not started`,
    );
    rmSync(path, { recursive: true });
    expect(checkMounted(process.pid, [held])).toMatch(/is not the folder/);
    expect(checkMounted(process.pid, [])).toBeUndefined();
  });
});
