// Reconcile after a (re)start: every unfinished run in SQLite is brought in line with its agent.
// Flows are idempotent (SubmitJob by job_id, manifest uploads by hash), so a run caught midway
// simply runs its flow again.
import type { JobStatus } from '@dstack/core/gen/agent';
import type { AgentManager } from '../agent/manager';
import { isNotFound } from '../agent/rpc';
import type { Logger } from '../logger';
import type { SshConfigFiles } from '../ssh-config/config-files';
import type { RunRow, RunsStore } from '../state/runs-store';
import type { RunBook } from './bookkeeping';
import type { Ending } from './ending';
import { endOf } from './instance-loss';
import type { JobEvents } from './job-events';
import type { LogGap } from './log-gap';
import type { OrphanSweeper } from './orphans';
import type { Provisioner } from './provision';

export interface ReconcileDeps {
  store: RunsStore;
  book: Pick<RunBook, 'indexJob' | 'instanceOf' | 'backend'>;
  agents: Pick<AgentManager, 'connect'>;
  ssh: SshConfigFiles;
  orphans: Pick<OrphanSweeper, 'sweepAll'>;
  log: Logger;
  /** Resumes a run caught mid-provisioning. */
  provisioner: Pick<Provisioner, 'start'>;
  /** Finishes a stop caught midway (`start`), ends a run whose job is gone (`end`). */
  ending: Pick<Ending, 'start' | 'end'>;
  /** Takes the agent's view of the job, as if it had come as an event. */
  jobEvents: Pick<JobEvents, 'onJobStatus'>;
  /** Fetches agent log lines the daemon missed. */
  logGap: Pick<LogGap, 'fill'>;
}

/**
 * Brings every unfinished run in SQLite in line with its agent: a job still running is kept (its
 * SSH block rewritten), a job gone ends the run, a run caught mid-provisioning resumes (SubmitJob
 * is idempotent by job_id), a stop caught midway finishes. Then jobs no run owns are removed.
 */
export async function reconcileRuns(d: ReconcileDeps): Promise<void> {
  const rows = d.store.unfinished();
  for (const row of rows) d.book.indexJob(row);
  for (const row of rows) {
    try {
      await reconcileRun(d, row);
    } catch (err) {
      d.log.warn(`run ${row.name}: reconcile failed`, { error: err as Error });
    }
  }
  await d.orphans.sweepAll();
  // Host blocks of runs that are not active any more (a crash between the stop and the rewrite).
  const active = new Set(d.store.unfinished().map((r) => r.name));
  for (const alias of d.ssh.aliases()) {
    if (!active.has(alias)) {
      d.ssh.remove(alias);
      d.log.info(`removed the SSH block of ${alias}: no such active run`);
    }
  }
}

async function reconcileRun(d: ReconcileDeps, row: RunRow): Promise<void> {
  d.log.info(`reconcile run ${row.name} (${row.status})`);
  switch (row.status) {
    case 'submitted':
      return; // the tick provisions it when its retry is due
    case 'terminating':
      void d.ending.start(row.id, false);
      return;
    case 'provisioning':
      d.provisioner.start(row.id, true);
      return;
    default:
      break;
  }
  const record = d.book.instanceOf(row);
  if (!record || !row.jobId) {
    void d.ending.end(row.id, 'executor_error', 'the run lost its instance while the daemon was down');
    return;
  }
  let handle;
  try {
    handle = await d.agents.connect(row.instanceKey, record);
  } catch (err) {
    // An instance that ended while the daemon was away (a container that exited at its limit, a
    // spot instance taken back) says so at its provider: its run ends for that reason.
    const end = await d.book
      .backend(record.backend)
      .instanceEnded?.(record)
      .catch(() => undefined);
    if (end) {
      const { reason, message } = endOf(row, end, Date.now());
      void d.ending.end(row.id, reason, message);
    } else void d.ending.end(row.id, 'instance_unreachable', `the agent on ${record.name} is unreachable: ${(err as Error).message}`);
    return;
  }
  let st: JobStatus | undefined;
  try {
    st = (await handle.rpc.getJob(row.jobId)).status;
  } catch (err) {
    if (!isNotFound(err)) throw err;
    void d.ending.end(row.id, 'executor_error', `the job is gone from the agent on ${record.name}`);
    return;
  }
  if (!st) return;
  // Also rewrites the SSH block from the agent's current view.
  d.jobEvents.onJobStatus(row.id, st);
  const after = d.store.get(row.id)!;
  if ((after.status === 'pulling' || after.status === 'provisioning') && !after.noRepo && !st.codeReady) {
    d.provisioner.start(row.id, true);
  }
  void d.logGap.fill(after);
}
