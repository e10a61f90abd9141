// Bad input to live sync gets one line naming what to do, an exit code scripts can trust (1: a
// failure, 2: bad usage), and changes nothing.
import { join } from 'node:path';
import { credentials, Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { DaemonClient, type Run } from '@dstack/core/gen/daemon';
import { dstack, mustDstack, runName, sandbox, syncRepo } from './helpers';

describe('live sync: bad input', () => {
  it('unknown runs, flags that do not go together, --sync without a repo, runs without a repo or ended', { timeout: 300_000 }, async () => {
    const sb = sandbox('sync-bad');
    try {
      const unknown = await dstack(sb, ['sync', 'nosuch']);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toBe('error: no run named "nosuch": see `dstack ps -a`\n');

      const both = await dstack(sb, ['sync', 'nosuch', '--stop', '--status']);
      expect(both.code).toBe(2);
      expect(both.stderr).toBe('error: --stop and --status do not go together\n');

      const name = runName('norepo');
      const repo = await syncRepo(sb, name);
      const noRepo = await dstack(sb, ['apply', '-f', '.dstack.yml', '-y', '-d', '--sync', '--no-repo'], { cwd: repo });
      expect(noRepo.code).toBe(2);
      expect(noRepo.stderr).toBe('error: --sync needs the repo: drop --no-repo\n');
      expect(JSON.parse((await mustDstack(sb, ['ps', '-a', '--json'])).stdout).runs ?? []).toEqual([]);

      // The daemon refuses it too, before creating anything (a client other than this CLI).
      const client = new DaemonClient(`unix://${join(sb.dstackHome, 'daemon.sock')}`, credentials.createInsecure());
      const err = await new Promise<ServiceError | null>((resolve) =>
        client.applyRun(
          {
            configuration: { path: '.dstack.yml', text: '', cwd: '/', env: [], callerEnv: {} },
            repoDir: '',
            noRepo: true,
            runName: name,
            override: false,
            updateInPlace: false,
            ideVersion: '',
            sync: true,
          },
          new Metadata(),
          (e: ServiceError | null, _r: Run) => resolve(e),
        ),
      );
      client.close();
      expect(err?.code).toBe(Status.INVALID_ARGUMENT);
      expect(err?.details).toBe('sync needs the repo: apply without --no-repo');
      expect(JSON.parse((await mustDstack(sb, ['ps', '-a', '--json'])).stdout).runs ?? []).toEqual([]);

      // A run without a repo has nothing to sync; an ended run nothing to sync to.
      await mustDstack(sb, ['apply', '-f', '.dstack.yml', '-y', '-d', '--no-repo'], { cwd: repo });
      const without = await dstack(sb, ['sync', name]);
      expect(without.code).toBe(1);
      expect(without.stderr).toBe(`error: run ${name} was applied with --no-repo: there is no repo to sync\n`);
      await mustDstack(sb, ['stop', name, '-y']);
      const ended = await dstack(sb, ['sync', name]);
      expect(ended.code).toBe(1);
      // `dstack stop` keeps the container (stop and resume with state): the run is stopped, not ended.
      expect(ended.stderr).toBe(
        `error: run ${name} is stopped (its container kept): \`dstack start ${name}\` first to sync into it, or \`dstack sync ${name} --pull\` to bring its edits home\n`,
      );
      // Its state can still be asked for, and stopping what is not on says so.
      expect((await mustDstack(sb, ['sync', name, '--status'])).stdout).toBe(`Sync of ${name}: off\n`);
      expect((await mustDstack(sb, ['sync', name, '--stop'])).stdout).toBe(`Sync of ${name} is not on\n`);
    } finally {
      await sb.cleanup();
    }
  });
});
