// Ending a run's attempt: the move to terminating is committed first, then the job is stopped and
// removed (its last log lines fetched), the SSH block dropped and the instance released; then the
// run finishes, or goes back to submitted for a retry when its policy covers the reason. A cleanup
// that fails is tried again by the tick, with backoff.
import { isFinished, reasonText, reasonToStatus, retryDelayMs, type TerminationReason } from '@dstack/core/runs/status';
import type { JobStatus } from '@dstack/core/gen/agent';
import { formatBytes } from '@dstack/core/bytes';
import type { InstanceRecord } from '@dstack/backends/backend';
import type { AgentManager } from '../agent/manager';
import { isNotFound, type AgentRpc } from '../agent/rpc';
import type { Logger } from '../logger';
import type { SshConfigFiles } from '../ssh-config/config-files';
import type { InstancesStore } from '../state/instances-store';
import type { RunRow, RunsStore } from '../state/runs-store';
import type { RunBook } from './bookkeeping';
import { retriesAfter, type InstanceLoss } from './instance-loss';
import { isJobFinished } from './job-state';
import { keptJson, keptOf, whyNotKept } from './kept';
import type { LogGap } from './log-gap';
import { remoteChanges } from '../sync/pull';

const STOP_GRACE_SECONDS = 10;

export interface EndingDeps {
  book: Pick<RunBook, 'liveOf' | 'instanceOf' | 'configOf' | 'backend' | 'move' | 'say' | 'notice'>;
  store: RunsStore;
  instances: InstancesStore;
  agents: Pick<AgentManager, 'connect' | 'disconnect'>;
  ssh: SshConfigFiles;
  log: Logger;
  loss: Pick<InstanceLoss, 'isLost'>;
  /** Fetches the job's last log lines before it is removed. */
  logGap: Pick<LogGap, 'fill'>;
}

export class Ending {
  constructor(private readonly d: EndingDeps) {}

  /**
   * Ends the run's current attempt for `reason`: moves it to terminating (committed first), stops and
   * removes the job, drops the SSH block, frees the instance, then finishes it, or resubmits it when
   * its retry policy covers the reason. Concurrent calls share one flow; a user's stop overrides a
   * failure's reason (no retry after a stop).
   */
  end(runId: string, reason: TerminationReason, message = '', { abort = false, user = false, keep = false } = {}): Promise<void> {
    const live = this.d.book.liveOf(runId);
    const row = this.d.store.get(runId);
    if (!row || isFinished(row.status)) return Promise.resolve();
    if (row.status === 'terminating') {
      // An abort ends what a stop in progress meant to keep.
      if (user) this.d.store.update(runId, { terminationReason: reason, ...(abort ? { keptJson: '' } : {}) });
      live.abort?.abort();
      return live.ending ?? this.start(runId, abort);
    }
    if (row.status === 'submitted' && !row.jobId && !live.provisioning) {
      // Waiting for a retry: nothing was created for this attempt.
      this.d.book.move(runId, 'terminated', { terminationReason: reason, statusMessage: message, finishedMs: Date.now() });
      return Promise.resolve();
    }
    // Stop and resume with state: the container stays where the instance can keep it (kept.ts).
    const asked = keep && !abort && Boolean(row.jobId);
    const why = asked ? whyNotKept(this.d.book.instanceOf(row)) : undefined;
    const wantKeep = asked && !why;
    // A stop that could not keep says why (shown by `dstack stop` and `ps -v`).
    const said = why ? message || `nothing kept: ${why}` : message;
    this.d.book.move(runId, 'terminating', {
      terminationReason: reason,
      statusMessage: said,
      keptJson: wantKeep ? keptJson({ pending: true }) : '',
    });
    live.abort?.abort();
    return this.start(runId, abort);
  }

  /** Runs (or joins) the cleanup of a run that is terminating. */
  start(runId: string, abort: boolean): Promise<void> {
    const live = this.d.book.liveOf(runId);
    if (live.ending) return live.ending;
    live.ending = this.flow(runId, abort)
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

  private async flow(runId: string, abort: boolean): Promise<void> {
    const { book } = this.d;
    const live = book.liveOf(runId);
    if (live.provisioning) await live.provisioning;
    let row = this.d.store.get(runId);
    if (row?.status !== 'terminating') return;
    const record = book.instanceOf(row);
    if (row.jobId && record && this.d.loss.isLost(row.instanceKey)) {
      book.say(row, `The job on ${record.name} is removed when its agent answers again`);
    } else if (row.jobId && record) {
      try {
        const handle = await this.d.agents.connect(row.instanceKey, record);
        await this.stopJob(row, handle.rpc, abort || row.terminationReason === 'aborted_by_user', Boolean(keptOf(row)?.pending));
      } catch (err) {
        // An unreachable agent: try again on later ticks; past a few tries the job is lost with it.
        if (live.cleanupFailures < 3) throw err;
        book.say(row, `Could not clean up the job on ${record.name}: ${(err as Error).message}`);
      }
    }
    row = this.d.store.get(runId)!;
    if (this.d.ssh.remove(row.name)) this.d.log.info(`run ${row.name}: SSH block removed`);
    if (record) await this.releaseInstance(row, record);
    row = this.d.store.get(runId)!;
    if (row.status !== 'terminating') return;
    live.activity = { attached: live.activity.attached };
    const reason = row.terminationReason as TerminationReason;
    const kept = keptOf(row);
    if (kept && !kept.pending) {
      const done = book.move(runId, 'stopped', { finishedMs: Date.now(), sshAlias: '' });
      const size = kept.sizeBytes ? `, ${formatBytes(kept.sizeBytes)} of its own` : '';
      book.say(
        done,
        `Run stopped (${reasonText(reason)}); its container ${kept.containerId?.slice(0, 12) ?? ''} is kept on ${kept.instanceName}${size}: \`dstack start ${done.name}\` resumes it, \`dstack delete ${done.name}\` removes it`,
      );
      live.cleanupFailures = 0;
      return;
    }
    const config = book.configOf(row);
    if (retriesAfter(reason, config.retry, row.submittedMs, Date.now())) {
      const at = Date.now() + retryDelayMs(row.attempt);
      const next = book.move(runId, 'submitted', {
        retryAtMs: at,
        terminationReason: '',
        statusMessage: `${reasonText(reason)}${row.statusMessage ? `: ${row.statusMessage}` : ''}; retrying`,
        jobId: '',
        instanceKey: '',
        sshAlias: '',
        gpuBlocks: '',
        keptJson: '',
      });
      // The next attempt's cleanup starts with a clean slate (no inherited backoff).
      live.cleanupFailures = 0;
      book.say(next, `Attempt ${row.attempt} ended (${reasonText(reason)}); retrying in ${Math.round((at - Date.now()) / 1000)}s`);
      book.notice(next, `Retrying in ${Math.round((at - Date.now()) / 1000)}s (${reasonText(reason)})`);
      return;
    }
    const done = book.move(runId, reasonToStatus(reason), { finishedMs: Date.now(), sshAlias: '', keptJson: '' });
    book.say(done, `Run ${done.status} (${reasonText(reason)})${done.statusMessage ? `: ${done.statusMessage}` : ''}`);
    live.cleanupFailures = 0;
  }

  private async stopJob(row: RunRow, rpc: AgentRpc, abort: boolean, keep = false): Promise<void> {
    let st: JobStatus | undefined;
    try {
      const job = await rpc.getJob(row.jobId);
      st = job.status;
      if (st && !isJobFinished(st.state)) {
        const stopped = await rpc.stopJob({ jobId: row.jobId, abort, graceSeconds: STOP_GRACE_SECONDS, keep });
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
    await this.d.logGap.fill(row);
    if (keep && st?.kept) {
      await this.keep(row, rpc, st);
      return;
    }
    // A host-mode job keeps nothing: its processes are gone, and its folder goes with RemoveJob.
    if (keep)
      this.d.store.update(row.id, { keptJson: '', statusMessage: row.statusMessage || 'nothing kept: a host-mode job has no container' });
    try {
      await rpc.removeJob(row.jobId);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    this.d.log.info(`run ${row.name}: job ${row.jobId} stopped and removed`);
  }

  /**
   * The job stopped with its container kept: what changed under /workflow on the instance is listed
   * (for `dstack stop` and `dstack sync NAME --pull`) and the run records what it keeps.
   */
  private async keep(row: RunRow, rpc: AgentRpc, st: JobStatus): Promise<void> {
    let changes: { path: string; change: string }[] = [];
    try {
      if (!row.noRepo && row.repoDir)
        changes = (await remoteChanges(rpc, row.jobId, row.repoDir)).map((c) => ({ path: c.path, change: c.change }));
    } catch (err) {
      this.d.book.say(row, `Could not list the files changed on the instance: ${(err as Error).message}`);
    }
    const instanceName = this.d.book.instanceOf(row)?.name ?? '';
    this.d.store.update(row.id, {
      keptJson: keptJson({
        containerId: st.containerId,
        sizeBytes: Number(st.keptSizeBytes ?? 0),
        keptMs: Date.now(),
        instanceName,
        changes,
      }),
    });
    this.d.log.info(`run ${row.name}: job ${row.jobId} stopped, its container kept`);
  }

  /** The instance goes back to its backend once no other unfinished run uses it. */
  private async releaseInstance(row: RunRow, record: InstanceRecord): Promise<void> {
    const others = this.d.store.unfinished().filter((r) => r.id !== row.id && r.instanceKey === row.instanceKey);
    if (others.length) return;
    // An instance that goes away for good is forgotten first: a reconnect loop would otherwise
    // redeploy to its address, which the provider may already have given to another machine.
    if (!record.reusable) await this.d.agents.disconnect(row.instanceKey);
    const backend = this.d.book.backend(record.backend);
    // idle_duration: a cloud instance is kept for the next run that fits it, then terminated by the sweep.
    const idle = this.d.book.configOf(row).idle_duration;
    if (!record.reusable && backend.keepsIdle && idle !== null && idle > 0) {
      const idleUntilMs = Date.now() + idle * 1000;
      this.d.instances.upsert({ ...record, data: { ...record.data, idleUntilMs } }, 'idle');
      this.d.book.say(row, `Instance ${record.name} kept idle for ${idle}s (idle_duration), then terminated unless a run takes it`);
      return;
    }
    await backend.release(record);
    this.d.instances.setStatus(row.instanceKey, record.reusable ? 'idle' : 'terminated');
  }
}
