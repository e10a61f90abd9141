// Where a sync suite's run lives: this machine (the local backend, a Docker container of the
// harness's Debian image) or an SSH fleet host (a network-namespace host with its own sshd, the
// fleet applied through the CLI as a user does, the job in host mode there). Each test gets its own
// sandbox (DSTACK_HOME, HOME) and, for a fleet, its own host and fleet.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestHosts, fleetSandbox, fleetYaml } from '../fleets/helpers';
import type { TestHostNetwork } from '../harness/ssh-hosts';
import { applyDetached, mustDstack, runName, sandbox, syncRepo, type Sandbox } from './helpers';

export interface SyncRun {
  sb: Sandbox;
  name: string;
  repo: string;
  /** The job's working dir on the instance, as `ssh NAME` sees it (/workflow in a container). */
  dir: string;
}

export interface Place {
  label: string;
  /** A sandbox, with whatever the run needs to land there (a fleet); the extra configuration lines. */
  open(prefix: string): Promise<{ sb: Sandbox; config: string; close(): Promise<void> }>;
}

export const LOCAL: Place = {
  label: 'the local backend',
  async open(prefix) {
    const sb = sandbox(prefix);
    return { sb, config: '', close: () => sb.cleanup() };
  },
};

export const FLEET_HOST: Place = {
  label: 'an SSH fleet host',
  async open(prefix) {
    let net: TestHostNetwork | undefined;
    const sb = fleetSandbox(prefix);
    try {
      net = await createTestHosts([{ name: 'h1' }]);
      const fleet = runName('fleet');
      const file = join(sb.dir, 'fleet.dstack.yml');
      writeFileSync(file, fleetYaml(net, fleet, [net.host('h1')]));
      await mustDstack(sb, ['apply', '-f', file, '-y'], { timeoutMs: 600_000 });
      const n = net;
      return {
        sb,
        config: `fleets: [${fleet}]\n`,
        async close() {
          await sb.cleanup();
          await n.destroy();
        },
      };
    } catch (err) {
      await sb.cleanup();
      await net?.destroy();
      throw err;
    }
  },
};

export interface RunOptions {
  /** Start with `apply --sync` (default), or without sync. */
  sync?: boolean;
  /** More configuration lines (retry: ...). */
  config?: string;
  /** Shape the repo before the run is applied. */
  prepare?: (sb: Sandbox, repo: string) => Promise<void>;
}

/** A run of a git repo at `place`, up (and syncing unless told otherwise), handed to `fn`; everything is cleaned up after. */
export async function withSyncRun(place: Place, prefix: string, opts: RunOptions, fn: (run: SyncRun) => Promise<void>): Promise<void> {
  const at = await place.open(prefix);
  try {
    const name = runName(prefix.replace(/^sync-/, ''));
    const repo = await syncRepo(at.sb, name, `${at.config}${opts.config ?? ''}`);
    await opts.prepare?.(at.sb, repo);
    await applyDetached(at.sb, repo, { sync: opts.sync ?? true });
    const run = (
      JSON.parse((await mustDstack(at.sb, ['ps', '--json'])).stdout).runs as { name: string; job?: { workingDir?: string } }[]
    ).find((r) => r.name === name);
    const dir = run?.job?.workingDir;
    if (!dir) throw new Error(`run ${name} has no working dir in \`dstack ps --json\``);
    await fn({ sb: at.sb, name, repo, dir });
  } finally {
    await at.close();
  }
}
