// The secrets audit: a run (docker, this machine's backend, through the real CLI and daemon) with a
// secret env value given as `-e NAME` from the environment, another from an --env-file, and a
// private image's registry password. While the run is up, after a daemon restart, and after its
// agent is killed and started again, the values are searched for everywhere they could rest or
// show: state.db (with its -wal), every file under DSTACK_HOME (the daemon's and run logs, the
// agent's data dir and its log), the command line of every process, the local agent's environment
// (the daemon's has them: `dstack apply` started it), `docker inspect` of the
// container, and every world-readable file in the container. Found nowhere; and `ssh NAME` still
// sees the values.
//
// Then `dstack secret`: a value set from stdin reaches a run through ${{ secrets.NAME }} (env and
// registry_auth), the job's log masks it, and the same audit finds it nowhere else.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { docker } from '../harness/docker';
import { waitFor } from '../harness/util';
import { dstack, getRun, mustDstack, privateImageConfig, runName, sandbox, ssh, type Sandbox } from './helpers';

/** Files under `dir` (recursively, links not followed) whose bytes hold one of `values`. */
function filesHolding(dir: string, values: string[], keep: (path: string, mode: number) => boolean = () => true): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return; // gone meanwhile, or a folder root cannot list (a FUSE mount)
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        try {
          const st = lstatSync(p);
          // The agent's executable (96 MiB, built before the values existed) is the only big file.
          if (st.size > 32 << 20 || !keep(p, st.mode)) continue;
          const bytes = readFileSync(p);
          if (values.some((v) => bytes.includes(v))) found.push(p);
        } catch {
          /* gone meanwhile */
        }
      }
    }
  };
  walk(dir);
  return found;
}

/** Processes whose command line holds one of `values`. */
function commandLinesHolding(values: string[]): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`);
      if (values.some((v) => cmdline.includes(v))) found.push(`${pid}: ${cmdline.toString().replace(/\0/g, ' ')}`);
    } catch {
      /* exited */
    }
  }
  return found;
}

/** Every place a value shows, as `where: what`; the test wants none. */
async function audit(sb: Sandbox, name: string, values: string[]): Promise<string[]> {
  const found: string[] = [];
  // The database and its WAL are among the files of DSTACK_HOME; they must be there to be searched.
  for (const f of ['state.db', 'state.db-wal']) expect(existsSync(join(sb.dstackHome, f)), f).toBe(true);
  found.push(...filesHolding(sb.dstackHome, values).map((p) => `file ${p}`));
  found.push(...commandLinesHolding(values).map((c) => `command line ${c}`));
  // The daemon was started by `dstack apply`, with the values in its environment; the agent it
  // started must not have inherited them.
  const agentPid = readFileSync(join(sb.dstackHome, 'local', 'agent', 'agent.pid'), 'utf8').trim();
  const agentEnv = readFileSync(`/proc/${agentPid}/environ`);
  if (values.some((v) => agentEnv.includes(v))) found.push(`the local agent's environment (pid ${agentPid})`);
  const cid = (await getRun(sb, name))!.job!.containerId!;
  const inspect = (await docker(['inspect', cid])).stdout;
  if (values.some((v) => inspect.includes(v))) found.push(`docker inspect ${cid}`);
  // The container's files, as any user in it could read them: world-readable ones.
  const pid = (await docker(['inspect', '-f', '{{.State.Pid}}', cid])).stdout.trim();
  const root = `/proc/${pid}/root`;
  const inContainer = filesHolding(root, values, (p, mode) => (mode & 0o004) !== 0 && !/^\/(proc|sys|dev)\//.test(p.slice(root.length)));
  found.push(...inContainer.map((p) => `container file ${p.slice(root.length)}`));
  return found;
}

describe('secrets audit', () => {
  it('a secret env value and a registry password rest nowhere in clear and show on no command line, across daemon and agent restarts', async () => {
    const reg = inject('registry');
    const sb = sandbox('secrets');
    const name = runName('secrets');
    const fromShell = `shell-tok-${Math.random().toString(36).slice(2)}`;
    const fromFile = `file-tok-${Math.random().toString(36).slice(2)}`;
    const values = [fromShell, fromFile, reg.password];
    try {
      // The image must come from the registry, through the password.
      await docker(['rmi', '-f', reg.privateImage]).catch(() => undefined);
      const proj = join(sb.dir, 'proj');
      mkdirSync(proj);
      writeFileSync(
        join(proj, '.dstack.yml'),
        privateImageConfig(name, reg, [
          'env:',
          '  - PLAIN=plain-value',
          // init sees the values without printing them (its output is the run's log).
          'init:',
          '  - test -n "$APP_TOKEN" && test -n "$FILE_TOKEN" && echo tokens-present',
        ]),
      );
      // Outside the repo: a file in it (not git-ignored) would be uploaded with the code.
      const envFile = join(sb.dir, 'tokens.env');
      writeFileSync(envFile, `# for the audit\nFILE_TOKEN=${fromFile}\n`, { mode: 0o600 });
      const apply = await mustDstack(sb, ['apply', '-f', '.dstack.yml', '-y', '-d', '-e', 'APP_TOKEN', '--env-file', envFile], {
        cwd: proj,
        env: { APP_TOKEN: fromShell, REG_PASSWORD: reg.password },
      });
      expect(values.some((v) => (apply.stdout + apply.stderr).includes(v))).toBe(false);
      await waitFor('init to have run', async () => (await mustDstack(sb, ['logs', name])).stdout.includes('tokens-present\n'), {
        timeoutMs: 120_000,
        intervalMs: 1000,
      });

      const sees = async () => (await ssh(sb, name, 'echo "$APP_TOKEN $FILE_TOKEN $PLAIN"', { timeoutMs: 120_000 })).stdout;
      expect(await sees()).toBe(`${fromShell} ${fromFile} plain-value\n`);
      // Login shells get them from the profile, which is the session user's alone.
      expect((await ssh(sb, name, 'stat -c "%a %u" /etc/profile.d/dstack.sh')).stdout).toBe('600 0\n');
      expect(await audit(sb, name, values)).toEqual([]);

      // A daemon restart: the run goes on; the new daemon's log and database stay clean.
      await mustDstack(sb, ['daemon', 'stop']);
      await mustDstack(sb, ['ps']);
      expect((await getRun(sb, name))?.status).toBe('running');
      expect(await sees()).toBe(`${fromShell} ${fromFile} plain-value\n`);
      expect(await audit(sb, name, values)).toEqual([]);

      // The agent killed: the daemon starts it again and sends the job's secrets back from state.db.
      const pidFile = join(sb.dstackHome, 'local', 'agent', 'agent.pid');
      const agentPid = Number(readFileSync(pidFile, 'utf8').trim());
      process.kill(agentPid, 'SIGKILL');
      await waitFor(
        'a new agent',
        () => {
          const now = Number(readFileSync(pidFile, 'utf8').trim());
          return now > 0 && now !== agentPid;
        },
        { timeoutMs: 120_000, intervalMs: 500 },
      );
      expect(await sees()).toBe(`${fromShell} ${fromFile} plain-value\n`);
      expect(readFileSync(join(sb.dstackHome, 'daemon.log'), 'utf8')).toContain(`run ${name}: sent the job's secrets to its agent again`);
      expect(await audit(sb, name, values)).toEqual([]);
    } finally {
      await sb.cleanup();
    }
  });
});

describe('dstack secret', () => {
  it('a secret set from stdin is listed by name only, reaches a run as ${{ secrets.NAME }} (env and registry_auth) and shows nowhere else; an unknown one fails the apply; delete', async () => {
    const reg = inject('registry');
    const sb = sandbox('secret-store');
    const name = runName('secret-store');
    const value = `hf-store-${Math.random().toString(36).slice(2)}`;
    const values = [value, reg.password];
    try {
      // From stdin (a pipe: no prompt, no warning), never on a command line.
      const set = await mustDstack(sb, ['secret', 'set', 'HF_TOKEN'], { input: `${value}\n` });
      expect(set.stdout).toBe('Secret HF_TOKEN set: use it as ${{ secrets.HF_TOKEN }} in env or registry_auth\n');
      expect(set.stderr).toBe('');
      await mustDstack(sb, ['secret', 'set', 'REG_PASSWORD'], { input: reg.password });
      // A value on the command line is taken, as dstack does, with a warning.
      const argv = await mustDstack(sb, ['secret', 'set', 'ON_ARGV', 'argv-value']);
      expect(argv.stderr).toMatch(/^warning: a value on the command line stays in your shell history and shows in `ps`/);
      const bad = await dstack(sb, ['secret', 'set', 'a b'], { input: 'x' });
      expect([bad.code, bad.stderr.trim()]).toEqual([2, 'error: invalid secret name "a b": use 1 to 200 letters, digits, _ or -']);

      const list = await mustDstack(sb, ['secret', 'list']);
      expect(list.stdout).toMatch(/^ NAME +SET\n HF_TOKEN +now\n ON_ARGV +now\n REG_PASSWORD +now\n$/);
      const listJson = JSON.parse((await mustDstack(sb, ['secret', 'list', '--json'])).stdout);
      expect(listJson.secrets.map((s: { name: string }) => s.name)).toEqual(['HF_TOKEN', 'ON_ARGV', 'REG_PASSWORD']);
      expect(JSON.stringify(listJson) + list.stdout).not.toContain(value);
      expect((await mustDstack(sb, ['secret', 'get', 'HF_TOKEN'])).stdout).toBe(`${value}\n`);

      const proj = join(sb.dir, 'proj');
      mkdirSync(proj);
      // An unknown secret: the apply fails at the reference's line, naming it, and creates nothing.
      writeFileSync(join(proj, 'bad.dstack.yml'), `type: dev-environment\nname: ${name}\nenv:\n  - X=\${{ secrets.NOPE }}\n`);
      const refused = await dstack(sb, ['apply', '-f', 'bad.dstack.yml', '-y', '-d'], { cwd: proj });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('bad.dstack.yml:4:5: env X: no secret named `NOPE`: set it with `dstack secret set NOPE`');
      expect(await getRun(sb, name)).toBeUndefined();

      writeFileSync(
        join(proj, '.dstack.yml'),
        [
          'type: dev-environment',
          `name: ${name}`,
          `image: ${reg.privateImage}`,
          'registry_auth:',
          `  username: ${reg.username}`,
          '  password: ${{ secrets.REG_PASSWORD }}',
          'env:',
          '  - HF_TOKEN=${{ secrets.HF_TOKEN }}',
          '  - PLAIN=plain-value',
          // The job prints it: its log masks it.
          'init:',
          '  - echo "init token=$HF_TOKEN"',
          '',
        ].join('\n'),
      );
      // No REG_PASSWORD or HF_TOKEN in the CLI's environment: the daemon fills both in.
      const apply = await mustDstack(sb, ['apply', '-f', '.dstack.yml', '-y', '-d'], { cwd: proj });
      expect(values.some((v) => (apply.stdout + apply.stderr).includes(v))).toBe(false);
      const logs = await waitFor(
        'init to have run',
        async () => {
          const out = (await mustDstack(sb, ['logs', name])).stdout;
          // The init command's output, not the agent's note naming the command.
          return /^init token=/m.test(out) ? out : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 1000 },
      );
      expect(logs.match(/^init token=.*$/m)?.[0]).toBe('init token=***');

      expect((await ssh(sb, name, 'echo "$HF_TOKEN $PLAIN"', { timeoutMs: 120_000 })).stdout).toBe(`${value} plain-value\n`);
      const ps = await mustDstack(sb, ['ps', '--json']);
      expect(JSON.parse(ps.stdout).runs[0].configuration.env).toMatchObject({ HF_TOKEN: '***', PLAIN: 'plain-value' });
      const shown = [ps.stdout, (await mustDstack(sb, ['ps', '-v'])).stdout, (await mustDstack(sb, ['logs', name])).stdout];
      expect(shown.filter((s) => values.some((v) => s.includes(v)))).toEqual([]);
      expect(values.some((v) => readFileSync(join(sb.dstackHome, 'daemon.log')).includes(v))).toBe(false);
      expect(values.some((v) => readFileSync(join(sb.dstackHome, 'state.db')).includes(v))).toBe(false);
      expect(await audit(sb, name, values)).toEqual([]);

      // Delete: gone from the list; the run keeps the value it was applied with.
      const noTty = await dstack(sb, ['secret', 'delete', 'HF_TOKEN']);
      expect([noTty.code, noTty.stderr]).toEqual([
        2,
        'error: cannot ask "Delete the secret HF_TOKEN?" without a terminal: pass -y to answer yes\n',
      ]);
      expect((await mustDstack(sb, ['secret', 'delete', 'HF_TOKEN', '-y'])).stdout).toBe('Secret HF_TOKEN deleted\n');
      expect((await mustDstack(sb, ['secret', 'list'])).stdout).not.toContain('HF_TOKEN');
      for (const args of [
        ['secret', 'get', 'HF_TOKEN'],
        ['secret', 'delete', 'HF_TOKEN', '-y'],
        ['secret', 'delete', 'HF_TOKEN'],
      ]) {
        const gone = await dstack(sb, args);
        expect([gone.code, gone.stderr], args.join(' ')).toEqual([1, 'error: no secret named HF_TOKEN: see `dstack secret list`\n']);
      }
      expect((await ssh(sb, name, 'echo "$HF_TOKEN"')).stdout).toBe(`${value}\n`);
    } finally {
      await sb.cleanup();
    }
  });
});
