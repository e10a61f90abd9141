// The secrets audit: a run (docker, this machine's backend, through the real CLI and daemon) with a
// secret env value given as `-e NAME` from the environment, another from an --env-file, and a
// private image's registry password. While the run is up, after a daemon restart, and after its
// agent is killed and started again, the values are searched for everywhere they could rest or
// show: state.db (with its -wal), every file under DSTACK_HOME (the daemon's and run logs, the
// agent's data dir and its log), the command line of every process, the local agent's environment
// (the daemon's has them: `dstack apply` started it), `docker inspect` of the
// container, and every world-readable file in the container. Found nowhere; and `ssh NAME` still
// sees the values.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { docker } from '../harness/docker';
import { waitFor } from '../harness/util';
import { getRun, mustDstack, privateImageConfig, runName, sandbox, ssh, type Sandbox } from './helpers';

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
