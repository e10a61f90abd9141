// The flags dstack users type every day, end to end on this machine's backend: apply's -n, -b, -R,
// --profile (with the repo's .dstack/profiles.yml, its `default: true` profile too) and
// --max-duration (the run ends max_duration_exceeded); ps --last; attach -p with --host and
// --ssh-identity; a bad value is refused naming the flag, before the daemon is even started.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, run as exec, waitFor } from '../harness/util';
import { CLI, dstack, getRun, gitRepo, listRuns, mustDstack, runName, sandbox, ssh, waitForRun, type Sandbox } from './helpers';

const PROFILES = `profiles:
  - name: everyday
    default: true
    max_price: 5
  - name: short
    max_duration: 1h
    max_price: 2
    spot_policy: auto
`;

let sb: Sandbox;
let repo: string;
const fromFile = runName('from-file');
const other = runName('other');
const timed = runName('timed');

beforeAll(async () => {
  sb = sandbox('flags');
  repo = await gitRepo(sb, ['type: dev-environment', `name: ${fromFile}`, ''].join('\n'));
  mkdirSync(join(repo, '.dstack'));
  writeFileSync(join(repo, '.dstack', 'profiles.yml'), PROFILES);
});
afterAll(async () => {
  await sb?.cleanup();
});

function httpGet(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get({ host, port, path: '/', timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

describe('the everyday flags', () => {
  it('a bad value is refused in one line naming the flag and quoting the value (exit 2), before the daemon starts', async () => {
    for (const [flag, value, named] of [
      ['-n', 'Bad_Name', '--name'],
      ['-b', 'nope', '--backend'],
      ['-r', '', '--region'],
      ['--fleet', 'proj/gpus', '--fleet'],
      ['--max-duration', '30x', '--max-duration'],
      ['--idle-duration', 'soon', '--idle-duration'],
      ['--retry-duration', 'forever', '--retry-duration'],
      ['--spot-policy', 'cheap', '--spot-policy'],
    ]) {
      const res = await dstack(sb, ['apply', '-f', '.dstack.yml', '-y', '-d', flag, value], { cwd: repo });
      expect(res.code, `${flag} ${value}: ${res.stderr}`).toBe(2);
      expect(res.stderr.trim().split('\n'), `${flag} ${value}`).toHaveLength(1);
      expect(res.stderr).toContain(`error: ${named} ${JSON.stringify(value)}: `);
    }
    const both = await dstack(sb, ['apply', '-f', '.dstack.yml', '-y', '--spot', '--spot-policy', 'auto'], { cwd: repo });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("error: option '--spot' cannot be used with option '--spot-policy <POLICY>'");
    const last = await dstack(sb, ['ps', '--last', '0']);
    expect(last.code).toBe(2);
    expect(last.stderr).toContain("error: option '-n, --last <N>' argument '0' is invalid");
    const port = await dstack(sb, ['attach', 'anything', '-p', '80:http']);
    expect(port.code).toBe(2);
    expect(port.stderr).toContain("error: option '-p, --port <[LOCAL:]REMOTE>' argument '80:http' is invalid");
    const key = await dstack(sb, ['attach', 'anything', '--ssh-identity', '/nonexistent/key']);
    expect(key.code).toBe(2);
    expect(key.stderr).toBe('error: --ssh-identity "/nonexistent/key": no such file\n');
    const shell = await dstack(sb, ['completion', 'fish']);
    expect(shell.code).toBe(2);
    // Nothing was asked of the daemon: it was not even started.
    expect(existsSync(join(sb.dstackHome, 'daemon.sock'))).toBe(false);
  });

  it('dstack completion bash prints a script bash loads', async () => {
    const res = await mustDstack(sb, ['completion', 'bash']);
    expect(res.stdout).toContain('complete -o default -F _dstack dstack');
    const file = join(sb.dir, 'completion.bash');
    writeFileSync(file, res.stdout);
    const check = await exec('bash', [
      '-c',
      `source ${file} && COMP_WORDS=(dstack apply --max-d) COMP_CWORD=2 && _dstack && echo "\${COMPREPLY[*]}"`,
    ]);
    expect(check.stdout.trim()).toBe('--max-duration');
  });

  it("-n names the run instead of the file's `name`; -b and -R narrow the offers; the default profile fills in the rest", async () => {
    await mustDstack(sb, ['apply', '-f', '.dstack.yml', '-n', other, '-b', 'local', '-R', '-y', '-d'], { cwd: repo });
    const r = await getRun(sb, other);
    expect(r?.status).toBe('running');
    const c = r?.configuration as Record<string, unknown>;
    // max_price from the `default: true` profile, backends from -b.
    expect(c).toMatchObject({ maxPrice: 5, backends: ['local'] });
    expect(await getRun(sb, fromFile)).toBeUndefined();
  });

  it('--profile picks a profile, --max-duration wins over it and ends the run with max_duration_exceeded; ps --last shows the last runs', async () => {
    await mustDstack(sb, ['apply', '-f', '.dstack.yml', '-n', timed, '--profile', 'short', '--max-duration', '20s', '-y', '-d'], {
      cwd: repo,
    });
    const up = (await getRun(sb, timed))?.configuration as Record<string, unknown> | undefined;
    expect(up).toMatchObject({ maxPrice: 2, spotPolicy: 'auto' });
    expect(String(up?.maxDuration)).toBe('20');
    const ended = await waitForRun(sb, timed, (r) => ['terminated', 'done', 'failed'].includes(r.status), 'ended by max_duration', 180_000);
    expect(ended.terminationReason).toBe('max_duration_exceeded');

    // As dstack: the last N runs submitted, finished ones too.
    const last = JSON.parse((await mustDstack(sb, ['ps', '--last', '1', '--json'])).stdout).runs as { name: string }[];
    expect(last.map((r) => r.name)).toEqual([timed]);
    const table = (await mustDstack(sb, ['ps', '-n', '2'])).stdout;
    expect(table).toContain(timed);
    expect(table).toContain(other);
    expect((await mustDstack(sb, ['ps'])).stdout).not.toContain(timed);
  });

  it('an unknown profile, a bad profiles.yml and a backend that is not configured are refused; nothing is created', async () => {
    const before = (await listRuns(sb)).length;
    const unknown = await dstack(sb, ['apply', '-f', '.dstack.yml', '-n', runName('none'), '--profile', 'gpu', '-y', '-d'], { cwd: repo });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('error: --profile "gpu": no such profile in .dstack/profiles.yml\n');
    const fromEnv = await dstack(sb, ['apply', '-f', '.dstack.yml', '-n', runName('none'), '-y', '-d'], {
      cwd: repo,
      env: { DSTACK_PROFILE: 'gpu' },
    });
    expect(fromEnv.code).toBe(1);
    expect(fromEnv.stderr).toContain('error: $DSTACK_PROFILE "gpu": no such profile');

    const broken = join(sb.dir, 'broken');
    mkdirSync(join(broken, '.dstack'), { recursive: true });
    writeFileSync(join(broken, '.dstack.yml'), 'type: dev-environment\n');
    writeFileSync(join(broken, '.dstack', 'profiles.yml'), 'profiles:\n  - name: x\n    default: true\n    max_price: free\n');
    const bad = await dstack(sb, ['apply', '-f', '.dstack.yml', '-y', '-d'], { cwd: broken });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^\.dstack\/profiles\.yml:4:16: max_price: /);

    const runpod = await dstack(sb, ['apply', '-f', '.dstack.yml', '-n', runName('none'), '-b', 'runpod', '-y', '-d'], { cwd: repo });
    expect(runpod.code).toBe(1);
    expect(runpod.stderr).toContain('no configured backend is in backends: runpod');
    expect(await listRuns(sb)).toHaveLength(before);
  });

  it('attach -p forwards another port, bound to --host, authenticating with --ssh-identity', async () => {
    const [local, remote] = [await freePort(), await freePort()];
    const serve = await ssh(
      sb,
      other,
      `cd /workflow && setsid nohup python3 -m http.server ${remote} --bind 127.0.0.1 >/dev/null 2>&1 < /dev/null & echo started`,
    );
    expect(serve.stdout).toContain('started');
    // The daemon's key moves away: only --ssh-identity can log the forward in.
    const daemonKey = join(sb.dstackHome, 'ssh', 'id_ed25519');
    const moved = join(sb.dir, 'elsewhere_ed25519');
    renameSync(daemonKey, moved);
    const attach = (...flags: string[]) => {
      const child = spawn(
        process.execPath,
        [CLI, 'attach', other, '--no-logs', '-p', `${local}:${remote}`, '--host', '127.0.0.2', ...flags],
        {
          env: sb.env,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const output = { text: '' };
      child.stdout.on('data', (d) => (output.text += d));
      child.stderr.on('data', (d) => (output.text += d));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      return { child, output, exited };
    };
    // Without it, the forward cannot log in.
    const without = attach();
    try {
      await waitFor('the forward to fail without a key', () => without.output.text.includes('warning: port forwarding stopped'), {
        timeoutMs: 120_000,
      });
    } finally {
      without.child.kill('SIGINT');
    }
    await without.exited;
    const child = spawn(
      process.execPath,
      [CLI, 'attach', other, '--no-logs', '-p', `${local}:${remote}`, '--host', '127.0.0.2', '--ssh-identity', moved],
      { env: sb.env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor('attach to forward the port', () => out.includes(`Forwarded ports: 127.0.0.2:${local} → ${remote}`), {
        timeoutMs: 120_000,
      });
      const status = await waitFor('the forward to answer on 127.0.0.2', () => httpGet('127.0.0.2', local).catch(() => undefined), {
        timeoutMs: 60_000,
        intervalMs: 500,
      });
      expect(status).toBe(200);
      // Bound to --host only.
      await expect(httpGet('127.0.0.1', local)).rejects.toThrow(/ECONNREFUSED/);
      expect(out).not.toContain('warning: port forwarding stopped');
    } finally {
      child.kill('SIGINT');
      renameSync(moved, daemonKey);
    }
    expect(await exited).toBe(0);
  });
});
