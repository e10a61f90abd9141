// The controller's one-second pass over unfinished runs: a submitted run whose retry is due is
// provisioned, a cleanup that failed is tried again once its backoff is over, a run whose instance
// has been silent for the whole grace period ends (instance-loss.ts), one whose spot instance the
// provider took back, or whose container exited, ends at once (endOf says why), and a running run past
// inactivity_duration or max_duration ends (limits.ts). One run's error does not stop the pass.
import type { Logger } from '../logger';
import type { RunRow, RunsStore } from '../state/runs-store';
import type { RunBook } from './bookkeeping';
import type { Ending } from './ending';
import { endOf, type InstanceLoss } from './instance-loss';
import { exceededLimit } from './limits';
import type { Provisioner } from './provision';

export interface TickDeps {
  store: RunsStore;
  book: Pick<RunBook, 'liveOf' | 'instanceOf'>;
  loss: Pick<InstanceLoss, 'isLost' | 'message' | 'ended'>;
  log: Logger;
  /** Provisions a submitted run whose retry is due. */
  provisioner: Pick<Provisioner, 'start'>;
  /** Runs a failed cleanup again (`start`), ends a run past its limits (`end`). */
  ending: Pick<Ending, 'start' | 'end'>;
}

export function tickRuns(d: TickDeps, now: number): void {
  for (const row of d.store.unfinished()) {
    const live = d.book.liveOf(row.id);
    try {
      if (row.status === 'submitted' && !live.provisioning && row.retryAtMs <= now) d.provisioner.start(row.id);
      else if (row.status === 'terminating' && !live.ending && (live.cleanupAfterMs ?? 0) <= now) void d.ending.start(row.id, false);
      else if (endedNow(d.loss, row)) {
        const { reason, message } = endOf(row, d.loss.ended(row.instanceKey)!, now);
        void d.ending.end(row.id, reason, message);
      } else if (unreachableTooLong(d.loss, row, now)) {
        void d.ending.end(row.id, 'instance_unreachable', d.loss.message(d.book.instanceOf(row)?.name ?? 'the instance'));
      } else if (row.status === 'running') {
        const over = exceededLimit(row, live.activity, now);
        if (over) void d.ending.end(row.id, over.reason, over.message);
      }
    } catch (err) {
      d.log.error(`run ${row.name}: tick failed`, { error: err as Error });
    }
  }
}

function endedNow(loss: Pick<InstanceLoss, 'ended'>, row: RunRow): boolean {
  return ['provisioning', 'pulling', 'running'].includes(row.status) && Boolean(row.instanceKey) && !!loss.ended(row.instanceKey);
}

function unreachableTooLong(loss: Pick<InstanceLoss, 'isLost'>, row: RunRow, now: number): boolean {
  return ['provisioning', 'pulling', 'running'].includes(row.status) && Boolean(row.instanceKey) && loss.isLost(row.instanceKey, now);
}
