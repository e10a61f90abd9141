// The run controller: drives each run along core's table of transitions. Every move is committed
// to SQLite before the daemon acts on it; the agent's events (job status, pull progress, logs,
// activity) feed it; a one-second tick starts due retries and enforces inactivity_duration and
// max_duration. Flows are idempotent (SubmitJob by job_id, manifest uploads by hash), so
// reconcile() after a crash simply runs them again.
//
// This class holds the runs' state and the public API; the flows live beside it, each taking only
// what it needs: provision.ts, job-events.ts, log-gap.ts, ending.ts, tick.ts with limits.ts, and
// reconcile.ts, over the shared bookkeeping in bookkeeping.ts. A flow that calls another gets that
// flow's object in its deps, so they are built callees first: log gap → ending → job events →
// provisioner (no flow calls back up that chain).
import { EventEmitter } from 'node:events';
import { rmSync } from 'node:fs';
import type { DevEnvironmentConfiguration } from '@dstack/core/config/types';
import type { Progress, Run } from '@dstack/core/gen/daemon';
import type { TerminationReason } from '@dstack/core/runs/status';
import type { Backend, InstanceRecord } from '@dstack/backends/backend';
import type { AgentManager } from '../agent/manager';
import type { AgentRpc } from '../agent/rpc';
import { HashCache } from '../code/hash-cache';
import type { DaemonConfig } from '../config';
import type { Logger } from '../logger';
import type { RunLogs } from '../logs/run-log';
import type { SecretBox } from '../secrets';
import type { SshConfigFiles } from '../ssh-config/config-files';
import type { UserKey } from '../ssh-config/keys';
import type { Db } from '../state/db';
import type { InstancesStore } from '../state/instances-store';
import type { RunRow, RunsStore } from '../state/runs-store';
import type { VolumeCatalog } from '../volumes/attach';
import { RunBook } from './bookkeeping';
import { jobLimitsFor } from './job-spec';
import { Ending } from './ending';
import { InstanceLoss } from './instance-loss';
import { JobEvents } from './job-events';
import { JobSecretsSender } from './job-secrets';
import { LogGap } from './log-gap';
import { OrphanSweeper } from './orphans';
import { Provisioner } from './provision';
import { reconcileRuns } from './reconcile';
import { redactRunSecrets } from './redaction';
import { tickRuns } from './tick';

export interface ControllerDeps {
  db: Db;
  store: RunsStore;
  instances: InstancesStore;
  agents: AgentManager;
  backends: Backend[];
  /** The daemon's volumes, for provisioning a run that names network volumes. */
  volumes: VolumeCatalog;
  ssh: SshConfigFiles;
  userKey: UserKey;
  logs: RunLogs;
  secrets: SecretBox;
  config: DaemonConfig;
  log: Logger;
  home: string;
  /** The user's home, for the Include line in ~/.ssh/config. */
  userHome: () => string;
  /**
   * Instances to sweep for orphaned jobs even when state.db does not list them (this machine, when
   * its agent is already running): a lost or replaced state.db must not leave containers behind.
   */
  alwaysSweep?: () => Promise<{ key: string; record: InstanceRecord }[]>;
  /** The run's live sync, for its view (sync/service.ts). */
  syncStatus?: (runId: string) => Run['sync'];
}

export class RunController extends EventEmitter {
  private readonly book: RunBook;
  private timer?: NodeJS.Timeout;
  /** Instances whose agent stopped answering: their runs end after a grace period. */
  private readonly loss: InstanceLoss;
  private readonly orphans: OrphanSweeper;
  private readonly logGap: LogGap;
  private readonly jobEvents: JobEvents;
  private readonly provisioner: Provisioner;
  private readonly ending: Ending;
  private stopped = false;

  constructor(private readonly d: ControllerDeps) {
    super();
    this.setMaxListeners(0);
    const book = (this.book = new RunBook(d, (event, ...args) => this.emit(event, ...args)));
    // Callees first: each flow is handed the flows it calls.
    const logGap = (this.logGap = new LogGap({ book, agents: d.agents, logs: d.logs, log: d.log }));
    this.loss = new InstanceLoss(d.agents, d.config.instanceUnreachableAfterMs, async (key) => {
      const record = d.instances.get(key)?.record;
      const backend = record && d.backends.find((b) => b.type === record.backend);
      return record && backend?.instanceEnded ? backend.instanceEnded(record) : undefined;
    });
    const ending = (this.ending = new Ending({ ...d, book, loss: this.loss, logGap }));
    const secrets = new JobSecretsSender({ book, store: d.store, agents: d.agents, log: d.log });
    const jobEvents = (this.jobEvents = new JobEvents({
      book,
      store: d.store,
      logs: d.logs,
      ssh: d.ssh,
      userHome: d.userHome,
      ending,
      logGap,
      secrets,
    }));
    this.provisioner = new Provisioner({ ...d, book, hashCache: new HashCache(d.db), jobEvents, ending });
    d.agents.onEvent((key, ev) => jobEvents.onAgentEvent(key, ev));
    this.orphans = new OrphanSweeper(d);
    // An agent that answers again may hold jobs of runs that ended while it was away.
    d.agents.onState((key, up) => {
      if (up && !this.stopped) void this.orphans.sweep(key);
    });
  }

  // ---- views and notices -------------------------------------------------------------------

  view(row: RunRow): Run {
    return this.book.view(row);
  }

  /** The agent of the run's current job, while the daemon holds a connection to it. */
  jobAgent(row: RunRow): AgentRpc | undefined {
    return row.jobId && row.instanceKey ? this.d.agents.current(row.instanceKey)?.rpc : undefined;
  }

  /** A line in the run's log and a notice to attached CLIs. */
  note(row: RunRow, message: string): void {
    this.book.say(row, message);
    this.book.notice(row, message);
  }

  lastProgress(runId: string): Progress | undefined {
    return this.book.live.get(runId)?.lastProgress;
  }

  // ---- submit, end, in-place update, attach ------------------------------------------------

  /** A new run, already inserted as `submitted`: provision it now. */
  submitted(row: RunRow): void {
    this.book.say(row, `Submitted run ${row.name}`);
    this.provisioner.start(row.id);
  }

  /**
   * Ends the run's current attempt for `reason` (ending.ts); a user's stop overrides a failure's reason;
   * `keep`: its container is kept where the instance allows (the run becomes `stopped`).
   */
  end(
    runId: string,
    reason: TerminationReason,
    message = '',
    opts: { abort?: boolean; user?: boolean; keep?: boolean } = {},
  ): Promise<void> {
    return this.ending.end(runId, reason, message, opts);
  }

  /**
   * Why a stopped run cannot start again in its kept container (its instance or its container is
   * gone, or another run holds the host); undefined when it can.
   */
  async cannotResume(row: RunRow): Promise<string | undefined> {
    const inst = row.instanceKey ? this.d.instances.get(row.instanceKey) : undefined;
    if (!inst || inst.status === 'terminated' || inst.status === 'failed') return 'its instance is gone';
    if (inst.record.backend !== 'local') {
      // A fleet host (or its blocks) taken by another run since.
      const mine = row.gpuBlocks ? new Set(row.gpuBlocks.split('/')[0].split(',')) : undefined;
      const other = this.d.store.unfinished().find(
        (r) =>
          r.instanceKey === row.instanceKey &&
          (!mine ||
            !r.gpuBlocks ||
            r.gpuBlocks
              .split('/')[0]
              .split(',')
              .some((b) => mine.has(b))),
      );
      if (other) return `${inst.record.name} is busy with run ${other.name}`;
    }
    try {
      const handle = await this.d.agents.connect(row.instanceKey, inst.record);
      const st = (await handle.rpc.getJob(row.jobId)).status;
      if (!st?.kept) return 'its kept container is gone from the instance';
    } catch (err) {
      return `the agent on ${inst.record.name} does not answer (${(err as Error).message})`;
    }
    return undefined;
  }

  /** A stopped run starts again in its kept container: submitted now, provisioned as a resume (provision.ts). */
  resume(row: RunRow, configuration?: { masked: DevEnvironmentConfiguration; sealed: Buffer }): RunRow {
    const next = this.book.move(row.id, 'submitted', {
      terminationReason: '',
      statusMessage: '',
      finishedMs: 0,
      retryAtMs: 0,
      ...(configuration ? { configuration: configuration.masked, secrets: configuration.sealed } : {}),
    });
    // Its secrets are masked in daemon.log again (the list rebuilt at start holds active runs only).
    redactRunSecrets(this.d.log, this.book.secretsOf(next));
    this.book.say(next, `Resuming run ${next.name} in its kept container`);
    this.provisioner.start(next.id);
    return next;
  }

  /**
   * Ends a stopped run for good: its kept job (and container) is removed from the agent, then the run is
   * `terminated`. An agent that does not answer removes it at its next orphan sweep (no run owns it).
   */
  async discardKept(row: RunRow, reason: TerminationReason): Promise<RunRow> {
    const inst = row.instanceKey ? this.d.instances.get(row.instanceKey) : undefined;
    if (inst && row.jobId && inst.status !== 'terminated') {
      try {
        const handle = await this.d.agents.connect(row.instanceKey, inst.record);
        await handle.rpc.removeJob(row.jobId);
        this.book.say(row, `Removed the kept container of run ${row.name} from ${inst.record.name}`);
      } catch (err) {
        this.book.say(
          row,
          `Could not remove the kept container now (${(err as Error).message}); it goes when the agent on ${inst.record.name} answers again`,
        );
      }
    }
    return this.book.move(row.id, 'terminated', { terminationReason: reason, keptJson: '' });
  }

  async updateInPlace(runId: string, masked: DevEnvironmentConfiguration, sealed: Buffer): Promise<RunRow> {
    const inactivityDuration = masked.inactivity_duration;
    const row = this.d.store.update(runId, { configuration: masked, secrets: sealed });
    this.book.say(row, `Updated in place: inactivity_duration ${inactivityDuration === null ? 'off' : `${inactivityDuration}s`}`);
    // The agent enforces the limits while no daemon watches: it gets the new ones now (or with the next job).
    const handle = row.jobId && row.instanceKey ? this.d.agents.current(row.instanceKey) : undefined;
    await handle?.rpc
      .updateJob({ jobId: row.jobId, authorizedKeys: [], limits: jobLimitsFor(masked, row.runningMs) })
      .catch((err: Error) => this.d.log.warn(`run ${row.name}: could not update the agent's limits`, { error: err.message }));
    this.book.changed(row);
    return row;
  }

  attachOpened(runId: string): void {
    this.book.liveOf(runId).activity.attached++;
  }

  attachClosed(runId: string): void {
    const a = this.book.liveOf(runId).activity;
    a.attached = Math.max(0, a.attached - 1);
    a.lastDetachMs = Date.now();
  }

  // ---- the tick, reconcile -----------------------------------------------------------------

  start(): void {
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  /** Starts due retries, retries stuck cleanups, ends runs past their limits or with a lost instance (tick.ts). */
  tick(now = Date.now()): void {
    if (this.stopped) return;
    tickRuns(
      { store: this.d.store, book: this.book, loss: this.loss, log: this.d.log, provisioner: this.provisioner, ending: this.ending },
      now,
    );
  }

  /** Brings every unfinished run in line with its agent after a (re)start (reconcile.ts). */
  reconcile(): Promise<void> {
    const { provisioner, ending, jobEvents, logGap } = this;
    return reconcileRuns({
      store: this.d.store,
      book: this.book,
      agents: this.d.agents,
      ssh: this.d.ssh,
      orphans: this.orphans,
      log: this.d.log,
      provisioner,
      ending,
      jobEvents,
      logGap,
    });
  }

  // ---- delete, shutdown --------------------------------------------------------------------

  deleteFinished(row: RunRow): void {
    this.d.store.delete(row.id);
    this.d.logs.forget(row.id);
    this.book.live.delete(row.id);
    rmSync(this.d.logs.dir(row.id), { recursive: true, force: true });
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.loss.close();
    // Provisioning flows stop at their next step; what they did is in SQLite for reconcile.
    for (const l of this.book.live.values()) l.abort?.abort();
    await Promise.race([
      Promise.allSettled([...this.book.live.values()].flatMap((l) => [l.provisioning, l.ending].filter(Boolean))),
      new Promise((r) => setTimeout(r, 5000)),
    ]);
  }
}
