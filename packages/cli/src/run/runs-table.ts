// The runs table of `dstack ps`, laid out like dstack's:
//  NAME    BACKEND  RESOURCES       PRICE    STATUS                 SUBMITTED
//  vscode  cudo     2xCPU, 8GB,     $0.0286  running                8 mins ago
//                   100.0GB (disk)           (inactive for 2m 34s)
import type { Run } from '@dstack/core/gen/daemon';
import { formatResources } from '@dstack/core/offers/format';
import { formatBytes } from '@dstack/core/bytes';
import { isFinished } from '@dstack/core/runs/status';
import { syncStatusLines } from '../commands/sync-view';
import { formatPrice } from '../ui/format';
import { renderTable, wrapList } from '../ui/table';
import { formatDurationMultiunit, prettyDate } from '../ui/time-format';

export { isFinished };

/** The configuration's `inactivity_duration` in seconds, when set. */
export function inactivityLimit(run: Run): number | undefined {
  return run.configuration?.inactivityDuration || undefined;
}

/** What ended a run, for `ps -v` and error lines: `failed_to_start_due_to_no_capacity: no offers`. */
export function runError(run: Run): string {
  if (!isFinished(run.status)) return '';
  const parts = [run.terminationReason, run.statusMessage].filter((p) => p && p !== run.status);
  return [...new Set(parts)].join(': ');
}

/** This machine and fleet hosts: no region, instance type or spot to show. */
const OWN_BACKENDS = ['local', 'ssh'];

export function runsTable(runs: Run[], opts: { verbose?: boolean; now?: number } = {}): string {
  const verbose = Boolean(opts.verbose);
  const now = opts.now ?? Date.now();
  const withError = verbose && runs.some((r) => runError(r));
  // Clouds name their instance types; this machine and fleet hosts have none worth a column.
  const withType = verbose && runs.some((r) => r.instanceType && !OWN_BACKENDS.includes(r.backend));
  const withVolumes = verbose && runs.some((r) => r.configuration?.volumes.length);
  const headers = [
    'NAME',
    'BACKEND',
    ...(withType ? ['INSTANCE TYPE'] : []),
    'RESOURCES',
    ...(withType ? ['SPOT'] : []),
    'PRICE',
    'STATUS',
    'SUBMITTED',
    ...(withVolumes ? ['VOLUMES'] : []),
    ...(withError ? ['ERROR'] : []),
  ];
  const rows = runs.map((run) => {
    const resources = run.resources ? formatResources(run.resources) : '';
    let status = run.status;
    const inactive = run.activity?.inactiveSeconds ?? -1;
    if (verbose && run.status === 'running' && inactive > 0 && inactivityLimit(run)) {
      status += `\n(inactive for ${formatDurationMultiunit(inactive)})`;
    }
    // Waiting in a cluster's queue: why, as the scheduler says (`pending (Resources)`).
    if (run.status === 'provisioning' && /^pending( \(|$)/.test(run.statusMessage)) status += `: ${run.statusMessage}`;
    if (verbose) for (const line of syncStatusLines(run.sync, now)) status += `\n${line}`;
    // Stopped with its container kept: what it holds (for `dstack start`) and what that costs.
    if (verbose && run.kept)
      status += `\n(keeps its container${run.kept.sizeBytes ? `, ${formatBytes(run.kept.sizeBytes)}` : ''}: ${run.kept.cost})`;
    const own = OWN_BACKENDS.includes(run.backend);
    return [
      run.name,
      verbose && run.backend && run.region && !own ? `${run.backend} (${run.region})` : run.backend,
      ...(withType ? [own ? '' : run.instanceType] : []),
      verbose ? wrapList(resources) : resources,
      ...(withType ? [run.backend && !own ? (run.spot ? 'yes' : 'no') : ''] : []),
      // A stopped run holds disk only: no hourly price while it waits.
      run.backend ? formatPrice(run.status === 'stopped' ? 0 : run.price) : '',
      status,
      prettyDate(run.submittedMs, now),
      ...(withVolumes ? [(run.configuration?.volumes ?? []).join('\n')] : []),
      ...(withError ? [runError(run)] : []),
    ];
  });
  return renderTable(headers, rows);
}
