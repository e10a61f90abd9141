// Jobs on an agent that no unfinished run of this daemon owns: left behind by a crash between two
// steps, or by a run that ended while its host was away. They are stopped and removed at reconcile
// (every known agent) and whenever an agent answers again (that one). Jobs of other daemons (another
// DSTACK_HOME sharing the host) carry another home label and are left alone.
import type { InstanceRecord } from '@dstack/backends/backend';
import type { AgentHandle, AgentManager } from '../agent/manager';
import { isNotFound } from '../agent/rpc';
import type { Logger } from '../logger';
import type { InstancesStore } from '../state/instances-store';
import type { RunsStore } from '../state/runs-store';
import { isJobFinished } from './job-state';

export interface OrphanSweeperDeps {
  store: RunsStore;
  instances: InstancesStore;
  agents: AgentManager;
  home: string;
  log: Logger;
  /** Instances to sweep even when state.db does not list them (this machine's running agent). */
  alwaysSweep?: () => Promise<{ key: string; record: InstanceRecord }[]>;
}

export class OrphanSweeper {
  constructor(private readonly d: OrphanSweeperDeps) {}

  /** Jobs of unfinished runs, and the kept jobs of runs stopped with their state (their containers stay). */
  private owned(): Set<string> {
    return new Set([...this.d.store.unfinished(), ...this.d.store.stopped()].map((r) => r.jobId).filter(Boolean));
  }

  /** Every known agent, in parallel: an unreachable host costs one connect timeout, not one per host. */
  async sweepAll(): Promise<void> {
    const owned = this.owned();
    // Failed hosts (never deployed) have no agent to ask.
    const known = this.d.instances.list().filter((i) => i.status !== 'terminated' && i.status !== 'failed');
    const extra = (await this.d.alwaysSweep?.().catch(() => [])) ?? [];
    const all = [...known, ...extra.filter((x) => !known.some((k) => k.key === x.key))];
    await Promise.all(
      all.map(async (inst) => {
        let handle;
        try {
          handle = await this.d.agents.connect(inst.key, inst.record);
        } catch (err) {
          this.d.log.warn(`instance ${inst.record.name}: unreachable during reconcile`, { error: err as Error });
          return;
        }
        await this.removeOrphans(handle, inst.record.name, owned);
      }),
    );
  }

  /** One instance whose agent answers now. */
  async sweep(key: string): Promise<void> {
    const handle = this.d.agents.current(key);
    if (!handle) return;
    const name = this.d.instances.get(key)?.record.name ?? key;
    await this.removeOrphans(handle, name, this.owned()).catch((err: Error) =>
      this.d.log.warn(`instance ${name}: orphan sweep failed`, { error: err }),
    );
  }

  private async removeOrphans(handle: AgentHandle, where: string, owned: ReadonlySet<string>): Promise<void> {
    const jobs = await handle.rpc.listJobs().catch(() => []);
    for (const job of jobs) {
      const spec = job.spec;
      if (!spec || owned.has(spec.jobId)) continue;
      if (spec.labels?.['ai.dstack.home'] !== this.d.home) continue;
      this.d.log.warn(`orphaned job ${spec.jobId} (run ${spec.runName}) on ${where}: removing it`);
      try {
        if (job.status && !isJobFinished(job.status.state)) await handle.rpc.stopJob({ jobId: spec.jobId, abort: true, graceSeconds: 0 });
        await handle.rpc.removeJob(spec.jobId);
      } catch (err) {
        if (!isNotFound(err)) this.d.log.warn(`could not remove orphaned job ${spec.jobId}`, { error: err as Error });
      }
    }
  }
}
