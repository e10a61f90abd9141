// Stop and resume with state (beyond dstack): which runs can keep their container when stopped, what a
// run stopped so keeps (runs.kept_json), and how that reads in a Run view.
//
// Only an instance the daemon does not end with the run can keep one: this machine and fleet hosts
// (reusable instances). A cloud VM is terminated (or kept idle for idle_duration, then terminated),
// a container cloud's instance is the run's own container, and none of the three GPU clouds here
// can stop an instance and start it again (Lambda has no stop): their runs end for good.
import type { KeptState } from '@dstack/core/gen/daemon';
import type { InstanceRecord } from '@dstack/backends/backend';
import type { RunRow } from '../state/runs-store';

/** Backends whose instances outlive a run and can hold a stopped container. */
const KEEPING_BACKENDS = ['local', 'ssh'];

/** At most this many remote changes are stored with a stopped run (the total is kept too). */
const MAX_CHANGES = 200;

export interface KeptInfo {
  /** A stop that keeps the container is under way (set with the move to terminating). */
  pending?: boolean;
  containerId?: string;
  /** The container's own layer, bytes; 0: unknown. */
  sizeBytes?: number;
  keptMs?: number;
  instanceName?: string;
  /** Files under /workflow changed on the instance when it stopped. */
  changes?: { path: string; change: string }[];
  changesTotal?: number;
}

export function keptOf(row: Pick<RunRow, 'keptJson'>): KeptInfo | undefined {
  if (!row.keptJson) return undefined;
  try {
    return JSON.parse(row.keptJson) as KeptInfo;
  } catch {
    return undefined;
  }
}

/** Why the run's container cannot be kept at a stop; undefined when it can. */
export function whyNotKept(record: InstanceRecord | undefined): string | undefined {
  if (!record) return 'it has no instance';
  if (!record.reusable || !KEEPING_BACKENDS.includes(record.backend))
    return `${record.backend} instances end with the run (no stop and start): the run ends for good`;
  return undefined;
}

export function keptJson(info: KeptInfo): string {
  const changes = info.changes ?? [];
  return JSON.stringify({
    ...info,
    changes: changes.slice(0, MAX_CHANGES),
    changesTotal: info.changesTotal ?? changes.length,
  } satisfies KeptInfo);
}

/** What keeping the container costs, in words. */
export function keptCost(backend: string, instanceName: string): string {
  if (backend === 'local') return 'disk only, on this machine ($0/h)';
  return `disk only, on fleet host ${instanceName} (the host is free for other runs meanwhile)`;
}

/** The Run view's `kept` of a stopped run. */
export function keptView(row: RunRow, instance: InstanceRecord | undefined): KeptState | undefined {
  if (row.status !== 'stopped') return undefined;
  const k = keptOf(row) ?? {};
  const name = k.instanceName || instance?.name || '';
  return {
    instanceName: name,
    containerId: k.containerId ?? '',
    sizeBytes: k.sizeBytes ?? 0,
    keptMs: k.keptMs ?? row.finishedMs,
    cost: keptCost(row.backend, name),
    remoteChanges: k.changes ?? [],
    remoteChangesTotal: k.changesTotal ?? 0,
  };
}
