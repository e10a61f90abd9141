// `volumes:` end to end with real parts (this machine's backend, the test Docker engine, OpenSSH):
// a file written to an instance volume by one run survives it and is seen by the next run (the
// folder made by the agent, 0777 as dstack makes it); `ps -v` and `ps --json` show the mounts; an
// optional volume the host cannot give is left out and the run goes on, a required one fails the run
// with volume_error; a network volume that does not exist and a `type: volume` at a backend that is
// not configured are refused with their reason (network volumes themselves: test/clouds/volumes.test.ts),
// as are bad paths (relative, over /workflow) and a folder of the agent's own; a host-mode run
// (no engine) cannot mount one and says so.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dstack, getRun, listRuns, mustDstack, runName, sandbox, ssh, type Sandbox } from './helpers';

let sb: Sandbox;
beforeAll(() => {
  sb = sandbox('volumes');
});
afterAll(async () => {
  await sb.cleanup();
});

// Configurations live in a folder of their own (the sandbox's folder also holds DSTACK_HOME).
function conf(file: string, lines: string[]): string {
  const proj = join(sb.dir, 'proj');
  mkdirSync(proj, { recursive: true });
  writeFileSync(join(proj, file), `${lines.join('\n')}\n`);
  return file;
}
const apply = (s: Sandbox, file: string) => dstack(s, ['apply', '-f', file, '-y', '-d'], { cwd: join(s.dir, 'proj') });

describe('instance volumes', () => {
  it('a file written by one run survives it and is seen by the next; ps shows the mounts', async () => {
    const vol = join(sb.dir, 'host', 'cache');
    const first = runName('vol-a');
    const second = runName('vol-b');
    const a = await apply(sb, conf('a.dstack.yml', ['type: dev-environment', `name: ${first}`, 'volumes:', `  - ${vol}:/data`]));
    expect(a.code, a.stderr + a.stdout).toBe(0);
    // The agent made the missing folder: its parents 0755, the folder 0777 (any user of the container writes it).
    expect(statSync(vol).mode & 0o7777).toBe(0o777);
    expect(statSync(join(sb.dir, 'host')).mode & 0o7777).toBe(0o755);
    const write = await ssh(sb, first, 'echo kept-by-a > /data/note && id -u');
    expect(write.code, write.stderr).toBe(0);
    expect(readFileSync(join(vol, 'note'), 'utf8')).toBe('kept-by-a\n');

    const json = (await getRun(sb, first)) as { configuration?: { volumes?: string[] } } | undefined;
    expect(json?.configuration?.volumes).toEqual([`${vol}:/data`]);
    const verbose = await mustDstack(sb, ['ps', '-v']);
    expect(verbose.stdout).toMatch(/ VOLUMES/);
    expect(verbose.stdout).toContain(`${vol}:/data`);
    expect((await mustDstack(sb, ['ps'])).stdout).not.toContain('VOLUMES');
    expect((await mustDstack(sb, ['logs', first])).stdout).toContain(`volume ${vol} mounted at /data`);

    const stop = await dstack(sb, ['stop', first, '-y']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(['terminated', 'done', 'stopped']).toContain((await getRun(sb, first))!.status);
    expect(readFileSync(join(vol, 'note'), 'utf8')).toBe('kept-by-a\n');

    // The next run, the object form, another path in the container, an optional flag.
    const b = await apply(
      sb,
      conf('b.dstack.yml', [
        'type: dev-environment',
        `name: ${second}`,
        'volumes:',
        `  - {instance_path: ${vol}, path: /mnt/v, optional: true}`,
      ]),
    );
    expect(b.code, b.stderr + b.stdout).toBe(0);
    const read = await ssh(sb, second, 'cat /mnt/v/note');
    expect(read.code, read.stderr).toBe(0);
    expect(read.stdout).toBe('kept-by-a\n');
    expect(((await getRun(sb, second)) as { configuration?: { volumes?: string[] } }).configuration?.volumes).toEqual([
      `${vol}:/mnt/v (optional)`,
    ]);
    expect((await dstack(sb, ['stop', second, '-y'])).code).toBe(0);
  });

  it('an optional volume the host cannot give is left out and the run goes on; a required one fails the run', async () => {
    const file = join(sb.dir, 'a-file');
    writeFileSync(file, 'not a folder\n');
    const missing = join(sb.dir, 'host', 'missing', 'hf');
    const optional = runName('vol-opt');
    const res = await apply(
      sb,
      conf('opt.dstack.yml', [
        'type: dev-environment',
        `name: ${optional}`,
        'volumes:',
        `  - {instance_path: ${file}/sub, path: /opt/cache, optional: true}`,
        // A missing folder is made, optional or not (as dstack does).
        `  - {instance_path: ${missing}, path: /hf, optional: true}`,
      ]),
    );
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const seen = await ssh(sb, optional, 'test -e /opt/cache && echo mounted || echo absent; test -d /hf && echo hf');
    expect(seen.stdout).toBe('absent\nhf\n');
    expect(statSync(missing).isDirectory()).toBe(true);
    expect((await mustDstack(sb, ['logs', optional])).stdout).toContain(
      `volumes: instance_path "${file}/sub": ${file} is not a folder; it is optional, so the job runs without it at /opt/cache`,
    );
    expect((await dstack(sb, ['stop', optional, '-y'])).code).toBe(0);

    const required = runName('vol-req');
    const fail = await apply(
      sb,
      conf('req.dstack.yml', ['type: dev-environment', `name: ${required}`, 'volumes:', `  - ${file}/sub:/opt/cache`]),
    );
    expect(fail.code).toBe(1);
    const errors = fail.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`run ${required} failed`);
    expect(errors[0]).toContain(`instance_path "${file}/sub": ${file} is not a folder`);
    const r = await getRun(sb, required);
    expect(r!.status).toBe('failed');
    expect(r!.terminationReason).toBe('volume_error');
  });

  it("a folder of the agent's own is refused: the run fails naming it", async () => {
    const name = runName('vol-agent');
    const inside = join(sb.dstackHome, 'local', 'agent', 'jobs');
    const res = await apply(sb, conf('own.dstack.yml', ['type: dev-environment', `name: ${name}`, 'volumes:', `  - ${inside}:/jobs`]));
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`instance_path "${inside}" is inside the agent's data dir`);
    expect((await getRun(sb, name))!.terminationReason).toBe('volume_error');
  });
});

describe('refused at plan time, nothing created', () => {
  it('a network volume, with one line naming it', async () => {
    const name = runName('netvol');
    const res = await apply(sb, conf('net.dstack.yml', ['type: dev-environment', `name: ${name}`, 'volumes:', '  - my-vol:/data']));
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(
      'error: no offers fit the configuration: volumes: volume my-vol at /data: no such volume: make one with `dstack apply -f` of a `type: volume` file (see `dstack volume list`)\n',
    );
    // Not even with a retry that waits for capacity.
    const retry = await apply(
      sb,
      conf('net-retry.dstack.yml', [
        'type: dev-environment',
        `name: ${name}`,
        'retry:',
        '  on_events: [no-capacity]',
        'volumes:',
        '  - {name: [v1, v2], path: /d}',
      ]),
    );
    expect(retry.code).toBe(1);
    expect(retry.stderr).toContain('volumes: volumes v1, v2 at /d: no such volume');
    expect(await getRun(sb, name)).toBeUndefined();
  });

  it('`type: volume` at a backend that is not configured, naming it', async () => {
    const res = await apply(
      sb,
      conf('vol.dstack.yml', ['type: volume', 'name: my-vol', 'backend: aws', 'region: eu-central-1', 'size: 100GB']),
    );
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(
      /vol\.dstack\.yml: backend aws is not configured \(configured: local, ssh; add it with `dstack backend add aws`\)/,
    );
    expect((await mustDstack(sb, ['volume', 'list', '--json'])).stdout).toBe('{\n  "volumes": []\n}\n');
  });

  it('bad paths, at their place, the value quoted', async () => {
    const before = (await listRuns(sb)).length;
    const res = await apply(
      sb,
      conf('bad.dstack.yml', [
        'type: dev-environment',
        'volumes:',
        '  - data/cache:/cache',
        '  - /srv/x:/workflow/x',
        '  - {instance_path: /a/../etc, path: /etc2}',
      ]),
    );
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n')).toEqual([
      'bad.dstack.yml:3:5: volumes[0]: invalid instance_path "data/cache": path must be absolute',
      `bad.dstack.yml:4:5: volumes[1]: invalid path "/workflow/x": /workflow holds the run's code (the repo); mount the volume elsewhere`,
      'bad.dstack.yml:5:21: volumes[2].instance_path: invalid instance_path "/a/../etc": `..` segments are not allowed',
    ]);
    expect(await listRuns(sb)).toHaveLength(before);
  });
});

describe('host mode (no Docker engine)', () => {
  it('a required volume fails the run saying a container is needed; an optional one is left out', async () => {
    const host = sandbox('volumes-host', { dockerHost: 'unix:///nonexistent' });
    try {
      const proj = join(host.dir, 'proj');
      mkdirSync(proj);
      const required = runName('hostvol');
      writeFileSync(join(proj, 'r.dstack.yml'), `type: dev-environment\nname: ${required}\nvolumes:\n  - ${join(host.dir, 'v')}:/data\n`);
      const fail = await apply(host, 'r.dstack.yml');
      expect(fail.code).toBe(1);
      expect(fail.stderr).toContain('instance volumes need a container, and this job runs on the host');
      expect((await getRun(host, required))!.terminationReason).toBe('volume_error');
      expect(existsSync(join(host.dir, 'v'))).toBe(false);

      const optional = runName('hostopt');
      writeFileSync(
        join(proj, 'o.dstack.yml'),
        `type: dev-environment\nname: ${optional}\nvolumes:\n  - {instance_path: ${join(host.dir, 'v')}, path: /data, optional: true}\n`,
      );
      const ok = await apply(host, 'o.dstack.yml');
      expect(ok.code, ok.stderr + ok.stdout).toBe(0);
      expect((await ssh(host, optional, 'echo up')).stdout).toBe('up\n');
      expect((await dstack(host, ['stop', optional, '-y'])).code).toBe(0);
    } finally {
      await host.cleanup();
    }
  });
});
