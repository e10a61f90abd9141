// The run controller: drives each run along core's table of transitions. Every move is committed
// to SQLite before the daemon acts on it; the agent's events (job status, pull progress, logs,
// activity) feed it; a one-second tick starts due retries and enforces inactivity_duration and
// max_duration. Flows are idempotent (SubmitJob by job_id, manifest uploads by hash), so
// reconcile() after a crash simply runs them again.
import { EventEmitter } from 'node:events';
import { rmSync } from 'node:fs';
import { LogStream, type Event, type JobStatus } from '@dstack/core/gen/agent';
import type { Progress, Run } from '@dstack/core/gen/daemon';
import { type DevEnvironmentConfiguration } from '@dstack/core/config/index';
import {
  isFinished,
  reasonText,
  reasonToStatus,
  retryDelayMs,
  shouldRetry,
  type RunStatus,
  type TerminationReason,
} from '@dstack/core/runs/status';
import { NoCapacityError, type Backend, type InstanceRecord } from '@dstack/backends/backend';
import type { AgentManager } from '../agent/manager';
import { isNotFound, type AgentRpc } from '../agent/rpc';
import { HashCache } from '../code/hash-cache';
import { listRepoFiles } from '../code/repo-files';
import { uploadCode } from '../code/upload';
import type { DaemonConfig } from '../config';
import type { Logger } from '../logger';
import type { LogStreamName, RunLogs } from '../logs/run-log';
import type { SecretBox } from '../secrets';
import { ensureInclude, type SshConfigFiles } from '../ssh/config-files';
import type { UserKey } from '../ssh/keys';
import type { Db } from '../state/db';
import { instanceKey, type InstancesStore } from '../state/instances-store';
import { TransitionError, type RunRow, type RunsStore } from '../state/runs-store';
import type { ActivityState } from './activity';
import { inactiveSeconds } from './activity';
import { InstanceLoss, retriesAfter } from './instance-loss';
import { OrphanSweeper } from './orphans';
import { revealConfiguration, type RunSecrets } from './configuration';
import { JOB_STATE_TO_RUN_STATUS, isJobFinished, reasonForEndedJob } from './job-state';
import { buildJobSpec } from './job-spec';
import { isUsable } from '../fleets/preference';
import { planOffers } from './planner';
import { runView } from './views';

export interface ControllerDeps {
  db: Db;
  store: RunsStore;
  instances: InstancesStore;
  agents: AgentManager;
  backends: Backend[];
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

interface Live {
  activity: ActivityState;
  abort?: AbortController;
  provisioning?: Promise<void>;
  ending?: Promise<void>;
  /** When a failed cleanup may be tried again. */
  cleanupAfterMs?: number;
  cleanupFailures: number;
  lastProgress?: Progress;
  /** A fetch of missed agent log lines is running; `refill`: run it once more when it ends. */
  filling?: boolean;
  refill?: boolean;
}

class Aborted extends Error {}

function streamName(s: LogStream): LogStreamName {
  return s === LogStream.LOG_STREAM_STDERR ? 'stderr' : s === LogStream.LOG_STREAM_AGENT ? 'agent' : 'stdout';
}

const STOP_GRACE_SECONDS = 10;

export class RunController extends EventEmitter {
  private live = new Map<string, Live>();
  private jobIndex = new Map<string, string>();
  private timer?: NodeJS.Timeout;
  /** Instances whose agent stopped answering: their runs end after a grace period. */
  private readonly loss: InstanceLoss;
  private readonly orphans: OrphanSweeper;
  private hashCache: HashCache;
  private stopped = false;

  constructor(private readonly d: ControllerDeps) {
    super();
    this.setMaxListeners(0);
    this.hashCache = new HashCache(d.db);
    d.agents.onEvent((key, ev) => this.onAgentEvent(key, ev));
    this.loss = new InstanceLoss(d.agents, d.config.instanceUnreachableAfterMs);
    this.orphans = new OrphanSweeper(d);
    // An agent that answers again may hold jobs of runs that ended while it was away.
    d.agents.onState((key, up) => {
      if (up && !this.stopped) void this.orphans.sweep(key);
    });
  }

  // ---- bookkeeping -------------------------------------------------------------------------

  private liveOf(runId: string): Live {
    let l = this.live.get(runId);
    if (!l) {
      l = { activity: { attached: 0 }, cleanupFailures: 0 };
      this.live.set(runId, l);
    }
    return l;
  }

  private backend(type: string): Backend {
    const b = this.d.backends.find((x) => x.type === type);
    if (!b) throw new Error(`backend ${type} is not configured`);
    return b;
  }

  private instanceOf(row: RunRow): InstanceRecord | undefined {
    return row.instanceKey ? this.d.instances.get(row.instanceKey)?.record : undefined;
  }

  private secretsOf(row: RunRow): RunSecrets {
    return row.secrets ? this.d.secrets.openJson<RunSecrets>(row.secrets) : { env: {} };
  }

  private configOf(row: RunRow): DevEnvironmentConfiguration {
    return revealConfiguration(JSON.parse(row.configurationJson) as DevEnvironmentConfiguration, this.secretsOf(row));
  }

  view(row: RunRow): Run {
    return runView(row, {
      activity: this.live.get(row.id)?.activity,
      instance: this.instanceOf(row),
      sshReady: row.status === 'running' && this.d.ssh.has(row.name),
      sync: this.d.syncStatus?.(row.id),
    });
  }

  /** Logs a line into the run's own log (stream `daemon`) and the daemon log. */
  private say(row: Pick<RunRow, 'id' | 'name'>, message: string, stream: LogStreamName = 'daemon'): void {
    this.d.log.info(`run ${row.name}: ${message}`);
    this.d.logs.get(row.id).append({ timeMs: Date.now(), stream, data: Buffer.from(`${message}\n`) });
  }

  /** A line in the run's log and a notice to attached CLIs. */
  note(row: RunRow, message: string): void {
    this.say(row, message);
    this.notice(row, message);
  }

  private notice(row: RunRow, message: string): void {
    this.emit('notice', row.id, message);
  }

  private changed(row: RunRow): void {
    this.emit('run', row.id, this.view(row));
  }

  private move(id: string, to: RunStatus, patch: Partial<RunRow> = {}): RunRow {
    const now = Date.now();
    const cur = this.d.store.get(id);
    if (cur && cur.status === 'running' && to !== 'running' && cur.runningSinceMs) {
      patch = { ...patch, runningMs: cur.runningMs + (now - cur.runningSinceMs), runningSinceMs: 0 };
    }
    const row = this.d.store.transition(id, to, patch, now);
    this.d.log.info(`run ${row.name}: ${cur?.status ?? '?'} → ${to}`, { reason: row.terminationReason || undefined });
    this.changed(row);
    return row;
  }

  private indexJob(row: RunRow): void {
    if (row.jobId) this.jobIndex.set(row.jobId, row.id);
  }

  // ---- submit and provision ----------------------------------------------------------------

  /** A new run, already inserted as `submitted`: provision it now. */
  submitted(row: RunRow): void {
    this.say(row, `Submitted run ${row.name}`);
    this.provision(row.id);
  }

  private provision(runId: string, resume = false): void {
    const live = this.liveOf(runId);
    if (live.provisioning || live.ending) return;
    const abort = new AbortController();
    live.abort = abort;
    live.provisioning = this.provisionFlow(runId, abort.signal, resume)
      .catch((err: unknown) => this.provisionFailed(runId, err))
      .finally(() => {
        live.provisioning = undefined;
        live.abort = undefined;
      });
  }

  private check(runId: string, signal: AbortSignal, statuses: RunStatus[] = ['provisioning', 'pulling', 'running']): RunRow {
    const row = this.d.store.get(runId);
    if (signal.aborted || !row || !statuses.includes(row.status)) throw new Aborted();
    return row;
  }

  private async provisionFlow(runId: string, signal: AbortSignal, resume: boolean): Promise<void> {
    let row = this.d.store.get(runId);
    if (!row) return;
    if (!resume) {
      if (row.status !== 'submitted') return;
      const attempt = row.attempt + 1;
      row = this.move(runId, 'provisioning', {
        attempt,
        // Persisted before SubmitJob: a daemon killed in between submits the same job again.
        jobId: `${row.id.slice(0, 8)}-${attempt}`,
        retryAtMs: 0,
        statusMessage: '',
        jobJson: '',
      });
    }
    this.indexJob(row);
    const config = this.configOf(row);

    // An instance: the one this attempt already has, or one from the best offer.
    let record = this.instanceOf(row);
    if (!record) {
      const plan = await planOffers(this.d.backends, config);
      row = this.check(runId, signal);
      const offer = plan.offers.find(isUsable);
      if (!offer) throw new NoCapacityError(plan.reasons.join('; ') || 'no offers');
      this.say(row, `Provisioning on ${offer.backend} (${offer.region})`);
      record = await this.backend(offer.backend).createInstance({ offer, name: `${row.name}-0`, sshPublicKey: this.d.userKey.publicKey });
      const key = instanceKey(record.backend, record.instanceId);
      this.d.instances.upsert(record, 'busy');
      row = this.d.store.update(runId, {
        instanceKey: key,
        backend: offer.backend,
        region: offer.region,
        price: offer.price,
        resourcesJson: JSON.stringify(offer.resources ?? {}),
      });
      this.changed(row);
    }
    row = this.check(runId, signal);
    const handle = await this.d.agents.connect(row.instanceKey, record, (_stage, message) => this.say(row!, message));
    this.d.instances.setAgent(row.instanceKey, {
      version: handle.handshake.agentVersion,
      sha256: handle.handshake.agentSha256,
      instanceId: handle.handshake.instanceId,
    });
    row = this.check(runId, signal);

    const spec = buildJobSpec({
      jobId: row.jobId,
      runId: row.id,
      runName: row.name,
      repoId: row.repoId,
      config,
      offer: record.offer,
      baseImage: this.d.config.baseImage,
      publicKey: this.d.userKey.publicKey,
      ideVersion: row.ideVersion,
      expectCode: !row.noRepo,
      home: this.d.home,
    });
    const job = await handle.rpc.submitJob(spec);
    if (job.status) this.onJobStatus(runId, job.status);
    row = this.check(runId, signal);
    if (!row.noRepo && !job.status?.codeReady) await this.upload(row, handle.rpc, signal);
  }

  private async upload(row: RunRow, rpc: AgentRpc, signal: AbortSignal): Promise<void> {
    const listing = await listRepoFiles(row.repoDir);
    const { files, rehashed } = await this.hashCache.hash(listing.files);
    this.check(row.id, signal);
    const live = this.liveOf(row.id);
    let last = 0;
    const res = await uploadCode(rpc, row.jobId, files, (p) => {
      const now = Date.now();
      if (now - last < 200 && p.current !== p.total) return;
      last = now;
      live.lastProgress = { kind: 'upload', current: p.current, total: p.total, message: p.message };
      this.emit('progress', row.id, live.lastProgress);
    });
    live.lastProgress = { kind: 'upload', current: res.sentBytes, total: res.sentBytes, message: 'uploaded' };
    this.emit('progress', row.id, live.lastProgress);
    this.say(
      row,
      `Uploaded the repo: ${res.files} files, ${res.sentBlobs} sent (${res.sentBytes} bytes), ${rehashed} rehashed`,
    );
  }

  private provisionFailed(runId: string, err: unknown): void {
    if (err instanceof Aborted) return;
    const row = this.d.store.get(runId);
    if (!row || isFinished(row.status) || row.status === 'terminating') return;
    const message = err instanceof Error ? err.message : String(err);
    this.d.log.warn(`run ${row.name}: provisioning failed`, { error: message });
    if (err instanceof NoCapacityError) {
      this.noCapacity(row, message);
      return;
    }
    const reason: TerminationReason =
      row.status === 'provisioning' && !this.d.agents.current(row.instanceKey) ? 'instance_unreachable' : 'executor_error';
    void this.end(runId, reason, message);
  }

  /** No offer fits: wait for a retry, or fail naming why. */
  private noCapacity(row: RunRow, reasons: string): void {
    const config = this.configOf(row);
    const reason: TerminationReason = 'failed_to_start_due_to_no_capacity';
    const message = `no offer fits: ${reasons}`;
    this.say(row, message);
    if (shouldRetry(reason, config.retry, row.submittedMs, Date.now())) {
      const at = Date.now() + retryDelayMs(row.attempt);
      const next = this.move(row.id, 'submitted', { retryAtMs: at, statusMessage: message, jobId: '', instanceKey: '' });
      this.notice(next, `No capacity; retrying in ${Math.round((at - Date.now()) / 1000)}s (attempt ${row.attempt + 1})`);
      return;
    }
    // No job was ever submitted for this attempt: the run shows none.
    this.move(row.id, 'failed', { terminationReason: reason, statusMessage: message, finishedMs: Date.now(), jobId: '' });
  }

  // ---- agent events ------------------------------------------------------------------------

  private runForJob(jobId: string): RunRow | undefined {
    const id = this.jobIndex.get(jobId);
    const row = id ? this.d.store.get(id) : undefined;
    return row && row.jobId === jobId ? row : undefined;
  }

  private onAgentEvent(_key: string, ev: Event): void {
    const row = this.runForJob(ev.jobId);
    if (!row || !ev.payload) return;
    switch (ev.payload.$case) {
      case 'status':
        this.onJobStatus(row.id, ev.payload.value);
        break;
      case 'pull': {
        const p = ev.payload.value;
        const live = this.liveOf(row.id);
        live.lastProgress = { kind: 'pull', current: p.current, total: p.total, message: p.status };
        this.emit('progress', row.id, live.lastProgress);
        break;
      }
      case 'log': {
        const l = ev.payload.value;
        const stream = streamName(l.stream);
        const log = this.d.logs.get(row.id);
        // Lines were missed (the stream dropped): fetch them, this one included, in order.
        if (l.offset > log.agentOffset(row.jobId) || this.liveOf(row.id).filling) void this.fillLogGap(row);
        else log.append({ timeMs: l.timeMs, stream, data: Buffer.from(l.data), jobId: row.jobId, agentOffset: l.offset });
        break;
      }
      case 'activity': {
        const live = this.liveOf(row.id);
        live.activity.agent = ev.payload.value;
        live.activity.agentAtMs = Date.now();
        break;
      }
    }
  }

  /** Lines the agent wrote while we were not listening: fetch them from its log. */
  private async fillLogGap(row: RunRow): Promise<void> {
    const live = this.liveOf(row.id);
    if (live.filling) {
      live.refill = true;
      return;
    }
    const handle = this.d.agents.current(row.instanceKey);
    if (!handle) return;
    const log = this.d.logs.get(row.id);
    live.filling = true;
    try {
      do {
        live.refill = false;
        for (let i = 0; i < 64; i++) {
          const from = log.agentOffset(row.jobId);
          const res = await handle.rpc.getLogs({ jobId: row.jobId, fromOffset: from, sinceMs: 0, limitBytes: 0 });
          for (const l of res.lines) {
            log.append({ timeMs: l.timeMs, stream: streamName(l.stream), data: Buffer.from(l.data), jobId: row.jobId, agentOffset: l.offset });
          }
          if (!res.lines.length || res.nextOffset <= from) break;
        }
      } while (live.refill);
    } catch (err) {
      if (!isNotFound(err)) this.d.log.debug(`run ${row.name}: could not fetch logs`, { error: err as Error });
    } finally {
      live.filling = false;
    }
  }

  private onJobStatus(runId: string, st: JobStatus): void {
    let row = this.d.store.get(runId);
    if (!row || isFinished(row.status) || st.jobId !== row.jobId) return;
    row = this.d.store.update(runId, { jobJson: JSON.stringify(st) });
    if (row.status === 'terminating' || row.status === 'submitted') {
      this.emit(`job:${st.jobId}`, st);
      this.changed(row);
      return;
    }
    if (isJobFinished(st.state)) {
      const reason = reasonForEndedJob(st);
      void this.end(runId, reason, st.message || reasonText(reason));
      return;
    }
    const target = JOB_STATE_TO_RUN_STATUS[st.state];
    try {
      if (target === 'pulling' && row.status === 'provisioning') {
        row = this.move(runId, 'pulling');
        this.say(row, `Pulling ${st.runtime === 'host' ? '(host mode)' : 'the image'}`);
      } else if (target === 'running' && (row.status === 'provisioning' || row.status === 'pulling')) {
        row = this.move(runId, 'running', { runningSinceMs: Date.now() });
        this.say(row, `Running (${st.runtime || 'docker'}${st.containerId ? ` ${st.containerId.slice(0, 12)}` : ''})`);
      }
    } catch (err) {
      if (!(err instanceof TransitionError)) throw err;
    }
    if (row.status === 'running' && st.sshPort && st.sshHostKey) this.writeSsh(row, st);
    this.changed(row);
  }

  private writeSsh(row: RunRow, st: JobStatus): void {
    const instance = this.instanceOf(row);
    let config: DevEnvironmentConfiguration | undefined;
    try {
      config = JSON.parse(row.configurationJson);
    } catch {
      config = undefined;
    }
    const hostKeyAlias = `dstack-${row.name}-${row.jobId}`;
    const user = (config?.user ?? '').split(':')[0] || 'root';
    const wasThere = this.d.ssh.has(row.name);
    this.d.ssh.upsert({
      alias: row.name,
      hostname: '127.0.0.1',
      port: st.sshPort,
      user,
      hostKey: st.sshHostKey,
      hostKeyAlias,
      proxy: instance?.sshProxy,
    });
    if (row.sshAlias !== row.name) this.d.store.update(row.id, { sshAlias: row.name });
    if (!wasThere) {
      const inc = ensureInclude(this.d.userHome(), this.d.ssh.configPath);
      if (inc.warning) {
        this.say(row, `warning: ${inc.warning}`);
        this.notice(row, inc.warning);
      }
      this.say(row, `SSH: ssh ${row.name}`);
    }
  }

  // ---- ending a run ------------------------------------------------------------------------

  /**
   * Ends the run's current attempt for `reason`: moves it to terminating (committed first), stops and
   * removes the job, drops the SSH block, frees the instance, then finishes it, or resubmits it when
   * its retry policy covers the reason. Concurrent calls share one flow; a user's stop overrides a
   * failure's reason (no retry after a stop).
   */
  end(runId: string, reason: TerminationReason, message = '', { abort = false, user = false } = {}): Promise<void> {
    const live = this.liveOf(runId);
    const row = this.d.store.get(runId);
    if (!row || isFinished(row.status)) return Promise.resolve();
    if (row.status === 'terminating') {
      if (user) this.d.store.update(runId, { terminationReason: reason });
      live.abort?.abort();
      return live.ending ?? this.startEnding(runId, abort);
    }
    if (row.status === 'submitted' && !row.jobId && !live.provisioning) {
      // Waiting for a retry: nothing was created for this attempt.
      this.move(runId, 'terminated', { terminationReason: reason, statusMessage: message, finishedMs: Date.now() });
      return Promise.resolve();
    }
    this.move(runId, 'terminating', { terminationReason: reason, statusMessage: message });
    live.abort?.abort();
    return this.startEnding(runId, abort);
  }

  private startEnding(runId: string, abort: boolean): Promise<void> {
    const live = this.liveOf(runId);
    if (live.ending) return live.ending;
    live.ending = this.endingFlow(runId, abort)
      .catch((err: unknown) => {
        live.cleanupFailures++;
        live.cleanupAfterMs = Date.now() + Math.min(60_000, 2000 * 2 ** live.cleanupFailures);
        this.d.log.warn(`run ${runId}: cleanup failed, will retry`, { error: err as Error });
      })
      .finally(() => {
        live.ending = undefined;
      });
    return live.ending;
  }

  private async endingFlow(runId: string, abort: boolean): Promise<void> {
    const live = this.liveOf(runId);
    if (live.provisioning) await live.provisioning;
    let row = this.d.store.get(runId);
    if (!row || row.status !== 'terminating') return;
    const record = this.instanceOf(row);
    if (row.jobId && record && this.loss.isLost(row.instanceKey)) {
      this.say(row, `The job on ${record.name} is removed when its agent answers again`);
    } else if (row.jobId && record) {
      try {
        const handle = await this.d.agents.connect(row.instanceKey, record);
        await this.stopJob(row, handle.rpc, abort || row.terminationReason === 'aborted_by_user');
      } catch (err) {
        // An unreachable agent: try again on later ticks; past a few tries the job is lost with it.
        if (live.cleanupFailures < 3) throw err;
        this.say(row, `Could not clean up the job on ${record.name}: ${(err as Error).message}`);
      }
    }
    row = this.d.store.get(runId)!;
    if (this.d.ssh.remove(row.name)) this.d.log.info(`run ${row.name}: SSH block removed`);
    if (record) await this.releaseInstance(row, record);
    row = this.d.store.get(runId)!;
    if (row.status !== 'terminating') return;
    live.activity = { attached: live.activity.attached };
    const reason = row.terminationReason as TerminationReason;
    const config = this.configOf(row);
    if (retriesAfter(reason, config.retry, row.submittedMs, Date.now())) {
      const at = Date.now() + retryDelayMs(row.attempt);
      const next = this.move(runId, 'submitted', {
        retryAtMs: at,
        terminationReason: '',
        statusMessage: `${reasonText(reason)}${row.statusMessage ? `: ${row.statusMessage}` : ''}; retrying`,
        jobId: '',
        instanceKey: '',
        sshAlias: '',
      });
      this.say(next, `Attempt ${row.attempt} ended (${reasonText(reason)}); retrying in ${Math.round((at - Date.now()) / 1000)}s`);
      this.notice(next, `Retrying in ${Math.round((at - Date.now()) / 1000)}s (${reasonText(reason)})`);
      return;
    }
    const done = this.move(runId, reasonToStatus(reason), { finishedMs: Date.now(), sshAlias: '' });
    this.say(done, `Run ${done.status} (${reasonText(reason)})${done.statusMessage ? `: ${done.statusMessage}` : ''}`);
    live.cleanupFailures = 0;
  }

  private async stopJob(row: RunRow, rpc: AgentRpc, abort: boolean): Promise<void> {
    let st: JobStatus | undefined;
    try {
      const job = await rpc.getJob(row.jobId);
      st = job.status;
      if (st && !isJobFinished(st.state)) {
        const stopped = await rpc.stopJob({ jobId: row.jobId, abort, graceSeconds: STOP_GRACE_SECONDS });
        st = stopped.status;
        const deadline = Date.now() + (STOP_GRACE_SECONDS + 30) * 1000;
        while (st && !isJobFinished(st.state) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 300));
          st = (await rpc.getJob(row.jobId)).status;
        }
      }
      if (st) this.d.store.update(row.id, { jobJson: JSON.stringify(st) });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      return; // the agent does not know the job: nothing to stop or remove
    }
    await this.fillLogGap(row);
    try {
      await rpc.removeJob(row.jobId);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    this.d.log.info(`run ${row.name}: job ${row.jobId} stopped and removed`);
  }

  private async releaseInstance(row: RunRow, record: InstanceRecord): Promise<void> {
    const others = this.d.store.unfinished().filter((r) => r.id !== row.id && r.instanceKey === row.instanceKey);
    if (others.length) return;
    await this.backend(record.backend).release(record);
    this.d.instances.setStatus(row.instanceKey, record.reusable ? 'idle' : 'terminated');
  }

  // ---- in-place update, attach -------------------------------------------------------------

  updateInPlace(runId: string, maskedJson: string, sealed: Buffer, inactivityDuration: number | null): RunRow {
    const row = this.d.store.update(runId, { configurationJson: maskedJson, secrets: sealed, inactivityDuration });
    this.say(row, `Updated in place: inactivity_duration ${inactivityDuration === null ? 'off' : `${inactivityDuration}s`}`);
    this.changed(row);
    return row;
  }

  attachOpened(runId: string): void {
    this.liveOf(runId).activity.attached++;
  }

  attachClosed(runId: string): void {
    const a = this.liveOf(runId).activity;
    a.attached = Math.max(0, a.attached - 1);
    a.lastDetachMs = Date.now();
  }

  lastProgress(runId: string): Progress | undefined {
    return this.live.get(runId)?.lastProgress;
  }

  // ---- the tick: retries, inactivity, max_duration, stuck cleanups --------------------------

  start(): void {
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  tick(now = Date.now()): void {
    if (this.stopped) return;
    for (const row of this.d.store.unfinished()) {
      const live = this.liveOf(row.id);
      try {
        if (row.status === 'submitted' && !live.provisioning && row.retryAtMs <= now) this.provision(row.id);
        else if (row.status === 'terminating' && !live.ending && (live.cleanupAfterMs ?? 0) <= now) void this.startEnding(row.id, false);
        else if (this.unreachableTooLong(row, now)) {
          void this.end(row.id, 'instance_unreachable', this.loss.message(this.instanceOf(row)?.name ?? 'the instance'));
        } else if (row.status === 'running') this.enforceLimits(row, live, now);
      } catch (err) {
        this.d.log.error(`run ${row.name}: tick failed`, { error: err as Error });
      }
    }
  }

  private unreachableTooLong(row: RunRow, now: number): boolean {
    return ['provisioning', 'pulling', 'running'].includes(row.status) && Boolean(row.instanceKey) && this.loss.isLost(row.instanceKey, now);
  }

  private enforceLimits(row: RunRow, live: Live, now: number): void {
    if (row.inactivityDuration !== null && row.inactivityDuration > 0) {
      const inactive = inactiveSeconds(live.activity, now);
      if (inactive >= row.inactivityDuration) {
        void this.end(row.id, 'inactivity_duration_exceeded', `inactive for ${inactive}s (inactivity_duration ${row.inactivityDuration}s)`);
        return;
      }
    }
    const config = JSON.parse(row.configurationJson) as DevEnvironmentConfiguration;
    if (config.max_duration !== null && config.max_duration > 0) {
      const running = row.runningMs + (row.runningSinceMs ? now - row.runningSinceMs : 0);
      if (running >= config.max_duration * 1000) {
        void this.end(row.id, 'max_duration_exceeded', `ran for ${Math.floor(running / 1000)}s (max_duration ${config.max_duration}s)`);
      }
    }
  }

  // ---- reconcile after a (re)start ---------------------------------------------------------

  /**
   * Brings every unfinished run in SQLite in line with its agent: a job still running is kept (its
   * SSH block rewritten), a job gone ends the run, a run caught mid-provisioning resumes (SubmitJob
   * is idempotent by job_id), a stop caught midway finishes. Then jobs no run owns are removed.
   */
  async reconcile(): Promise<void> {
    const rows = this.d.store.unfinished();
    for (const row of rows) this.indexJob(row);
    for (const row of rows) {
      try {
        await this.reconcileRun(row);
      } catch (err) {
        this.d.log.warn(`run ${row.name}: reconcile failed`, { error: err as Error });
      }
    }
    await this.orphans.sweepAll();
    // Host blocks of runs that are not active any more (a crash between the stop and the rewrite).
    const active = new Set(this.d.store.unfinished().map((r) => r.name));
    for (const alias of this.d.ssh.aliases()) {
      if (!active.has(alias)) {
        this.d.ssh.remove(alias);
        this.d.log.info(`removed the SSH block of ${alias}: no such active run`);
      }
    }
  }

  private async reconcileRun(row: RunRow): Promise<void> {
    this.d.log.info(`reconcile run ${row.name} (${row.status})`);
    switch (row.status) {
      case 'submitted':
        return; // the tick provisions it when its retry is due
      case 'terminating':
        void this.startEnding(row.id, false);
        return;
      case 'provisioning':
        this.provision(row.id, true);
        return;
      default:
        break;
    }
    const record = this.instanceOf(row);
    if (!record || !row.jobId) {
      void this.end(row.id, 'executor_error', 'the run lost its instance while the daemon was down');
      return;
    }
    let handle;
    try {
      handle = await this.d.agents.connect(row.instanceKey, record);
    } catch (err) {
      void this.end(row.id, 'instance_unreachable', `the agent on ${record.name} is unreachable: ${(err as Error).message}`);
      return;
    }
    let st: JobStatus | undefined;
    try {
      st = (await handle.rpc.getJob(row.jobId)).status;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      void this.end(row.id, 'executor_error', `the job is gone from the agent on ${record.name}`);
      return;
    }
    if (!st) return;
    // Also rewrites the SSH block from the agent's current view.
    this.onJobStatus(row.id, st);
    const after = this.d.store.get(row.id)!;
    if ((after.status === 'pulling' || after.status === 'provisioning') && !after.noRepo && !st.codeReady) {
      this.provision(row.id, true);
    }
    void this.fillLogGap(after);
  }

  // ---- delete, shutdown --------------------------------------------------------------------

  deleteFinished(row: RunRow): void {
    this.d.store.delete(row.id);
    this.d.logs.forget(row.id);
    this.live.delete(row.id);
    rmSync(this.d.logs.dir(row.id), { recursive: true, force: true });
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    // Provisioning flows stop at their next step; what they did is in SQLite for reconcile.
    for (const l of this.live.values()) l.abort?.abort();
    await Promise.race([
      Promise.allSettled([...this.live.values()].flatMap((l) => [l.provisioning, l.ending].filter(Boolean))),
      new Promise((r) => setTimeout(r, 5000)),
    ]);
  }
}

