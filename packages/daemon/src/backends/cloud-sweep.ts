// Cost safety: at start and every few minutes, each cloud's instances that carry this daemon's name
// prefix are compared with what runs own. One owned by no unfinished run (the daemon died between
// the provider's answer and its own record, a terminate that failed, a run deleted while its cloud
// was down) is terminated once it has been seen unowned for the grace period: a run being
// provisioned right now owns `<prefix><run>-0` before its record exists, so it is never taken.
import { idleUntilOf, type CloudBackend } from '@dstack/backends/cloud/cloud-backend';
import type { CloudInstance } from '@dstack/backends/cloud/compute';

import type { Logger } from '../logger';
import { instanceKey, type InstancesStore } from '../state/instances-store';
import type { RunsStore } from '../state/runs-store';

/** What the sweep needs of a backend (a cloud's, a Slurm cluster's jobs). */
type Sweepable = Pick<CloudBackend, 'type' | 'namePrefix' | 'terminateById'> & {
  ownedInstances(): Promise<Pick<CloudInstance, 'id' | 'name'>[]>;
};

export interface SweepDeps {
  clouds: () => Sweepable[];
  runs: RunsStore;
  instances: InstancesStore;
  log: Logger;
  /** How long an instance must be seen unowned before it is terminated (default 2 min). */
  graceMs?: number;
  /** Told each termination, for the next CLI output. */
  notice?: (message: string) => void;
  /** An instance is gone: its agent connection must not try to reach its address again. */
  forget?: (key: string) => Promise<void>;
}

export class CloudSweep {
  /** backend/id → when it was first seen unowned. */
  private readonly unowned = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(private readonly d: SweepDeps) {}

  start(everyMs = 3 * 60_000): void {
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  sweep(): Promise<void> {
    this.running ??= this.once().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async once(): Promise<void> {
    const grace = this.d.graceMs ?? 120_000;
    const unfinished = this.d.runs.unfinished();
    const ownedKeys = new Set(unfinished.map((r) => r.instanceKey).filter(Boolean));
    const seen = new Set<string>();
    await Promise.all(
      this.d.clouds().map(async (b) => {
        let mine;
        try {
          mine = await b.ownedInstances();
        } catch (err) {
          this.d.log.warn(`${b.type}: cannot list instances for the orphan sweep`, { error: (err as Error).message });
          return;
        }
        for (const i of mine) {
          const key = instanceKey(b.type, i.id);
          seen.add(key);
          const runName = i.name.slice(b.namePrefix.length).replace(/-\d+$/, '');
          if (ownedKeys.has(key) || unfinished.some((r) => r.name === runName && r.status === 'provisioning' && !r.instanceKey)) {
            this.unowned.delete(key);
            continue;
          }
          // Kept idle after its run (idle_duration): owned until then, terminated at once after.
          const row = this.d.instances.get(key);
          const until = row?.status === 'idle' ? idleUntilOf(row.record) : 0;
          if (until > Date.now()) continue;
          if (until) {
            await this.end(b, i, key, 'its idle_duration is over');
            continue;
          }
          const since = this.unowned.get(key) ?? Date.now();
          this.unowned.set(key, since);
          if (Date.now() - since < grace) continue;
          await this.end(b, i, key, 'no run owns it');
        }
      }),
    );
    for (const key of this.unowned.keys()) if (!seen.has(key)) this.unowned.delete(key);
  }

  private async end(b: Sweepable, i: Pick<CloudInstance, 'id' | 'name'>, key: string, why: string): Promise<void> {
    try {
      await this.d.forget?.(key);
      await b.terminateById(i.id);
      this.unowned.delete(key);
      if (this.d.instances.get(key)) this.d.instances.setStatus(key, 'terminated');
      const message = `${b.type}: terminated instance ${i.name} (${i.id}): ${why}`;
      this.d.log.warn(message);
      this.d.notice?.(message);
    } catch (err) {
      this.d.log.warn(`${b.type}: could not terminate ${i.name} (${i.id})`, { error: (err as Error).message });
    }
  }
}
