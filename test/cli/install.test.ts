// dstack installed as a tool: `npm pack` of the built tree, `npm install -g` of the tarball into a
// fresh prefix (from the npm cache where it can), then the README's flow with only that prefix's
// `dstack` on PATH, a fresh HOME and DSTACK_HOME, and a working dir outside the clone: --version,
// `apply -f .dstack.yml -y -d` of a copy of examples/.dstack.yml, and `ssh hello true`. The daemon
// must run from the installed package, which must hold the agent executables too.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mustRun, run, type RunResult } from '../harness/util';
import { ROOT, sandbox, ssh } from './helpers';

const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;

describe('npm pack, then npm install -g of the tarball', () => {
  it(
    'gives a dstack that applies examples/.dstack.yml and answers `ssh hello true` with no clone on PATH',
    async () => {
      const sb = sandbox('install');
      const packDir = join(sb.dir, 'pack');
      const prefix = join(sb.dir, 'prefix');
      const project = join(sb.dir, 'project');
      for (const d of [packDir, project]) mkdirSync(d, { recursive: true });
      // The installed tool, the fake `code` of the sandbox (no IDE download), node, and the system.
      const path = [join(prefix, 'bin'), sb.env.PATH!.split(delimiter)[0], dirname(process.execPath), '/usr/bin', '/bin'];
      const env: NodeJS.ProcessEnv = { ...sb.env, PATH: [...new Set(path)].join(delimiter) };
      const tool = (args: string[], timeoutMs = 300_000): Promise<RunResult> => run('dstack', args, { cwd: project, env, timeoutMs });
      try {
        // npm with the developer's own settings and cache: as a user would run it.
        await mustRun('npm', ['pack', '--pack-destination', packDir], { cwd: ROOT, timeoutMs: 600_000 });
        const tarballs = readdirSync(packDir).filter((f) => f.endsWith('.tgz'));
        expect(tarballs).toEqual([`dstack-${version}.tgz`]);
        expect(existsSync(join(ROOT, 'npm-shrinkwrap.json')), 'postpack removes the shrinkwrap it wrote').toBe(false);
        const tgz = join(packDir, tarballs[0]);
        await mustRun(
          'npm',
          ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--allow-scripts=better-sqlite3,ssh2', tgz],
          { cwd: sb.dir, timeoutMs: 900_000 },
        );

        const pkgDir = join(prefix, 'lib', 'node_modules', 'dstack');
        const which = await mustRun('sh', ['-c', 'command -v dstack'], { env });
        expect(which.stdout.trim()).toBe(join(prefix, 'bin', 'dstack'));
        expect(realpathSync(which.stdout.trim()).startsWith(`${pkgDir}/`)).toBe(true);
        for (const f of ['dist/cli.cjs', 'dist/daemon.cjs', 'dist/agent/dstack-agent-linux-x64', 'dist/agent/manifest.json']) {
          expect(existsSync(join(pkgDir, f)), f).toBe(true);
        }
        // The installed dependencies are the locked ones (the tarball's npm-shrinkwrap.json).
        const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')).packages;
        for (const dep of ['better-sqlite3', 'ssh2', '@grpc/grpc-js', 'protobufjs']) {
          const installed = JSON.parse(readFileSync(join(pkgDir, 'node_modules', dep, 'package.json'), 'utf8')).version;
          expect(installed, dep).toBe(lock[`node_modules/${dep}`].version);
        }

        copyFileSync(join(ROOT, 'examples', '.dstack.yml'), join(project, '.dstack.yml'));
        const before = await tool(['--version']);
        expect(before.code, before.stderr).toBe(0);
        expect(before.stdout).toBe(`dstack ${version}\ndaemon not running\nagent  ${version} (${agentArches(pkgDir)})\n`);

        const apply = await tool(['apply', '-f', '.dstack.yml', '-y', '-d']);
        expect(apply.code, apply.stderr + apply.stdout).toBe(0);
        expect(apply.stdout).toContain('To connect via SSH, use: ssh hello');
        const hello = await ssh(sb, 'hello', 'true');
        expect(hello.code, hello.stderr).toBe(0);
        const greeting = await ssh(sb, 'hello', 'echo "$GREETING"');
        expect(greeting.stdout).toBe('hello\n');

        // The daemon that served it is the installed one, and says so.
        const pid = Number(readFileSync(join(sb.dstackHome, 'daemon.pid'), 'utf8').trim());
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        expect(cmdline[1]).toBe(join(pkgDir, 'dist', 'daemon.cjs'));
        const after = await tool(['--version']);
        expect(after.stdout).toContain(`\ndaemon ${version} (pid ${pid})\n`);

        const stop = await tool(['stop', 'hello', '-x', '-y']);
        expect(stop.code, stop.stderr + stop.stdout).toBe(0);
        const ps = await tool(['ps', '-a', '--json']);
        expect(JSON.parse(ps.stdout).runs.find((r: { name: string }) => r.name === 'hello')?.status).toBe('terminated');
      } finally {
        await tool(['daemon', 'stop'], 60_000).catch(() => undefined);
        // A pack cut short leaves the shrinkwrap in the clone, where a later `npm ci` would take it as the lockfile.
        rmSync(join(ROOT, 'npm-shrinkwrap.json'), { force: true });
        await sb.cleanup();
      }
    },
    30 * 60_000,
  );
});

/** `linux-x64, linux-arm64`: the executables the installed package holds, as --version lists them. */
function agentArches(pkgDir: string): string {
  const manifest = JSON.parse(readFileSync(join(pkgDir, 'dist', 'agent', 'manifest.json'), 'utf8'));
  return Object.keys(manifest.executables)
    .map((f) => f.replace(/^dstack-agent-/, ''))
    .join(', ');
}
