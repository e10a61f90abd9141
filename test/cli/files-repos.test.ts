// `files:` and `repos:` end to end with real parts (this machine's backend, the test Docker engine,
// OpenSSH, git's own http-backend): a file from outside the repo and one via `~` appear in the
// container with their modes; a link an earlier job planted at a target path (on an instance
// volume) is replaced, and the host file it pointed at is untouched; a file over dstack's 2 MB limit
// and an SSH URL are refused at plan time at their FILE:LINE:COL, creating nothing; a private git
// repo over HTTP (basic auth, the token a `dstack secret` given through `token_env`) is cloned at
// its path and branch, with `single_branch`, and the token shows in no command line nor the run's log.
import { execFileSync, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dstack, listRuns, mustDstack, runName, sandbox, ssh, waitForRun, type Sandbox } from './helpers';

let sb: Sandbox;
beforeAll(() => {
  sb = sandbox('files-repos');
});
afterAll(async () => {
  await sb.cleanup();
});

function conf(file: string, lines: string[]): string {
  const proj = join(sb.dir, 'proj');
  mkdirSync(proj, { recursive: true });
  writeFileSync(join(proj, file), `${lines.join('\n')}\n`);
  return file;
}
const apply = (file: string) => dstack(sb, ['apply', '-f', file, '-y', '-d'], { cwd: join(sb.dir, 'proj') });

describe('files', () => {
  it('puts a file from outside the repo and one via ~ in the container with their modes; a planted link is replaced', async () => {
    // An earlier run plants a link on an instance volume, pointing at a file of the host.
    const vol = join(sb.dir, 'host', 'vol');
    const victim = join(sb.dir, 'victim.txt');
    writeFileSync(victim, 'host file\n');
    const planter = runName('files-plant');
    const a = await apply(conf('plant.dstack.yml', ['type: dev-environment', `name: ${planter}`, 'volumes:', `  - ${vol}:/data`]));
    expect(a.code, a.stderr + a.stdout).toBe(0);
    const plant = await ssh(sb, planter, `ln -s ${victim} /data/target && ls -l /data/target`);
    expect(plant.code, plant.stderr).toBe(0);
    expect(lstatSync(join(vol, 'target')).isSymbolicLink()).toBe(true);
    expect((await dstack(sb, ['stop', planter, '-y'])).code).toBe(0);

    const outside = join(sb.dir, 'outside', 'tool.cfg');
    mkdirSync(join(sb.dir, 'outside'));
    writeFileSync(outside, 'from outside\n');
    chmodSync(outside, 0o640);
    writeFileSync(join(sb.home, '.toolrc'), 'from home\n');
    chmodSync(join(sb.home, '.toolrc'), 0o600);
    writeFileSync(join(sb.dir, 'proj', 'payload.txt'), 'payload\n');
    const name = runName('files');
    const b = await apply(
      conf('files.dstack.yml', [
        'type: dev-environment',
        `name: ${name}`,
        'volumes:',
        `  - ${vol}:/data`,
        'files:',
        '  - ../outside/tool.cfg:/opt/tool/tool.cfg',
        '  - ~/.toolrc',
        '  - local_path: payload.txt',
        '    path: /data/target',
      ]),
    );
    expect(b.code, b.stderr + b.stdout).toBe(0);
    const seen = await ssh(sb, name, 'stat -c "%a %U %n" /opt/tool/tool.cfg ~/.toolrc && cat /opt/tool/tool.cfg ~/.toolrc /data/target');
    expect(seen.code, seen.stderr).toBe(0);
    expect(seen.stdout).toBe('640 root /opt/tool/tool.cfg\n600 root /root/.toolrc\nfrom outside\nfrom home\npayload\n');
    // The link was replaced on the volume; the host file it named is as it was.
    expect(readFileSync(victim, 'utf8')).toBe('host file\n');
    expect(lstatSync(join(vol, 'target')).isFile()).toBe(true);
    expect(readFileSync(join(vol, 'target'), 'utf8')).toBe('payload\n');
    expect((await mustDstack(sb, ['logs', name])).stdout).toContain('files: wrote 3 files');
    // The agent's job.json (and its answers) hold the entries without their bytes.
    const jobs = join(sb.dstackHome, 'local', 'agent', 'jobs');
    const saved = readdirSync(jobs)
      .filter((id) => existsSync(join(jobs, id, 'job.json')))
      .map((id) => JSON.parse(readFileSync(join(jobs, id, 'job.json'), 'utf8')) as { spec: { runName: string; files: unknown[] } })
      .find((j) => j.spec.runName === name);
    expect(saved?.spec.files).toHaveLength(3);
    expect(JSON.stringify(saved)).not.toMatch(/from home|ZnJvbSBob21l|102,114,111,109,32,104/);
    expect((await dstack(sb, ['stop', name, '-y'])).code).toBe(0);
  });

  it('refuses a file over the 2 MB limit at its line and column, and creates nothing', async () => {
    writeFileSync(join(sb.dir, 'proj', 'big.bin'), Buffer.alloc(3 * 1024 * 1024));
    const name = runName('files-big');
    const before = (await listRuns(sb)).length;
    const res = await apply(conf('big.dstack.yml', ['type: dev-environment', `name: ${name}`, 'files:', '  - big.bin:/data/big.bin']));
    expect(res.code).not.toBe(0);
    const errors = res.stderr.split('\n').filter((l) => l.includes('big.bin'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/big\.dstack\.yml:4:5: files: big\.bin is over the 2\.0MB limit of each entry \(as dstack's\)/);
    expect((await listRuns(sb)).length).toBe(before);
  });
});

describe('host mode (no Docker engine)', () => {
  it("writes files into the job's code dir and at absolute host paths, with their modes", async () => {
    const host = sandbox('files-host', { dockerHost: 'unix:///nonexistent' });
    try {
      const proj = join(host.dir, 'proj');
      mkdirSync(proj);
      writeFileSync(join(host.dir, 'tool.cfg'), 'host mode\n');
      chmodSync(join(host.dir, 'tool.cfg'), 0o640);
      const target = join(host.dir, 'placed', 'tool.cfg');
      const name = runName('files-host');
      writeFileSync(
        join(proj, 'h.dstack.yml'),
        `type: dev-environment\nname: ${name}\nfiles:\n  - ../tool.cfg:conf/tool.cfg\n  - ../tool.cfg:${target}\n`,
      );
      const res = await dstack(host, ['apply', '-f', 'h.dstack.yml', '-y', '-d'], { cwd: proj });
      expect(res.code, res.stderr + res.stdout).toBe(0);
      // A relative path is in the job's code dir (its working dir on the host).
      const seen = await ssh(host, name, 'stat -c "%a" conf/tool.cfg && cat conf/tool.cfg');
      expect(seen.code, seen.stderr).toBe(0);
      expect(seen.stdout).toBe('640\nhost mode\n');
      expect(readFileSync(target, 'utf8')).toBe('host mode\n');
      expect(lstatSync(target).mode & 0o777).toBe(0o640);
      expect((await dstack(host, ['stop', name, '-y'])).code).toBe(0);
    } finally {
      await host.cleanup();
    }
  });
});

/** `git http-backend` (git's own smart HTTP server) behind basic auth: user x-access-token, password `token`. */
function gitServer(projectRoot: string, token: string): Promise<Server> {
  const expected = `Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`;
  const server = createServer((req, res) => {
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' }).end();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const cgi = spawn('git', ['http-backend'], {
      env: {
        ...process.env,
        GIT_PROJECT_ROOT: projectRoot,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: url.pathname,
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        REMOTE_USER: 'x-access-token',
        REMOTE_ADDR: '127.0.0.1',
      },
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let sent = false;
    cgi.stdout.on('data', (d: Buffer) => {
      if (sent) {
        res.write(d);
        return;
      }
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      sent = true;
      let status = 200;
      for (const line of head.subarray(0, end).toString().split('\r\n')) {
        const [k, ...v] = line.split(':');
        if (k.toLowerCase() === 'status') status = Number.parseInt(v.join(':').trim(), 10);
        else res.setHeader(k, v.join(':').trim());
      }
      res.writeHead(status);
      res.write(head.subarray(end + 4));
    });
    cgi.on('close', () => res.end());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('repos', () => {
  it('clones a private repo over HTTP at its path and branch, the token a secret named by token_env', async () => {
    const root = join(sb.dir, 'git');
    const work = join(sb.dir, 'git-work');
    execFileSync('git', ['init', '-q', '--bare', '-b', 'main', join(root, 'r.git')]);
    execFileSync('git', ['init', '-q', '-b', 'main', work]);
    const g = (...args: string[]) => execFileSync('git', ['-C', work, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args]);
    writeFileSync(join(work, 'README'), 'main\n');
    g('add', 'README');
    g('commit', '-qm', 'main');
    g('checkout', '-qb', 'dev');
    writeFileSync(join(work, 'README'), 'dev\n');
    g('commit', '-qam', 'dev');
    g('push', '-q', join(root, 'r.git'), 'main', 'dev');
    const token = `tok-${Date.now().toString(36)}-secret`;
    const server = await gitServer(root, token);
    try {
      const port = (server.address() as AddressInfo).port;
      await mustDstack(sb, ['secret', 'set', 'GIT_TOKEN'], { input: `${token}\n` });
      const name = runName('repos');
      const res = await apply(
        conf('repos.dstack.yml', [
          'type: dev-environment',
          `name: ${name}`,
          'single_branch: true',
          'env:',
          '  - GIT_TOKEN=${{ secrets.GIT_TOKEN }}',
          'repos:',
          `  - url: http://127.0.0.1:${port}/r.git`,
          '    branch: dev',
          '    path: /src',
          '    token_env: GIT_TOKEN',
        ]),
      );
      expect(res.code, res.stderr + res.stdout).toBe(0);
      const seen = await ssh(sb, name, 'cat /src/README && git -C /src rev-parse --abbrev-ref HEAD && git -C /src branch -r');
      expect(seen.code, seen.stderr).toBe(0);
      // single_branch: the clone tracks dev only.
      expect(seen.stdout).toBe('dev\ndev\n  origin/dev\n');
      const logs = (await mustDstack(sb, ['logs', name])).stdout;
      expect(logs).toContain(`repos: cloning http://127.0.0.1:${port}/r.git (branch dev) into /src`);
      expect(logs).not.toContain(token);
      // No process's command line held the token (the clone is over; the helper named the variable only).
      for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
        let cmdline = '';
        try {
          cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        } catch {
          continue;
        }
        expect(cmdline, `process ${pid}`).not.toContain(token);
      }
      expect((await dstack(sb, ['stop', name, '-y'])).code).toBe(0);

      // At `.` (dstack's default path) the clone is the run's /workflow, in place of the local repo's upload.
      const atRoot = runName('repos-root');
      const root2 = await apply(
        conf('repos-root.dstack.yml', [
          'type: dev-environment',
          `name: ${atRoot}`,
          'env:',
          '  - GIT_TOKEN=${{ secrets.GIT_TOKEN }}',
          `repos: [{url: "http://127.0.0.1:${port}/r.git", token_env: GIT_TOKEN}]`,
        ]),
      );
      expect(root2.code, root2.stderr + root2.stdout).toBe(0);
      const inRoot = await ssh(sb, atRoot, 'pwd && ls -A && git rev-parse --abbrev-ref HEAD');
      expect(inRoot.stdout).toBe('/workflow\n.git\nREADME\nmain\n');
      expect((await dstack(sb, ['stop', atRoot, '-y'])).code).toBe(0);

      // A wrong token: the server refuses it, git does not prompt, and the run fails saying so.
      const wrong = runName('repos-wrong');
      const bad = await apply(
        conf('repos-wrong.dstack.yml', [
          'type: dev-environment',
          `name: ${wrong}`,
          'env: [GIT_TOKEN=not-the-token]',
          `repos: [{url: "http://127.0.0.1:${port}/r.git", path: /src, token_env: GIT_TOKEN}]`,
        ]),
      );
      // `apply -d` returns once `ssh NAME` is set up, before the clone; the run then fails.
      expect(bad.code, bad.stderr).toBe(0);
      const failed = await waitForRun(sb, wrong, (r) => r.status === 'failed', 'failed');
      expect(failed.statusMessage).toContain(`repos: cloning http://127.0.0.1:${port}/r.git into /src failed with exit code 128`);
    } finally {
      server.close();
    }
  });

  it('refuses an SSH URL at plan time, saying why, and creates nothing', async () => {
    const before = (await listRuns(sb)).length;
    const res = await apply(conf('ssh-url.dstack.yml', ['type: dev-environment', 'repos:', '  - git@github.com:me/private.git']));
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/ssh-url\.dstack\.yml:3:5: repos: git@github\.com:me\/private\.git: cloning over SSH needs your SSH agent/);
    expect((await listRuns(sb)).length).toBe(before);
  });
});
