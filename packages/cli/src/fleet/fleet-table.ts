// The fleets table of `dstack fleet`, laid out like dstack's: one row per fleet, then one indented
// row per host (`instance=N`). SSH hosts cost nothing and are not billed: PRICE shows `-`, as dstack
// prints it. -v adds where each host is, the run on it, how its agent is kept running, and why a
// host is not ready.
//  NAME          NODES  RESOURCES                   BACKEND  PRICE  STATUS  CREATED
//  my-fleet      3      -                           ssh      -      active  3 mins ago
//    instance=0         2xCPU, 31GB, 98.2GB (disk)  ssh      -      idle    3 mins ago
import type { Fleet, Instance } from '@dstack/core/gen/daemon';
import { formatResources } from '@dstack/core/offers/format';
import { renderTable, wrapList, type Cell } from '../ui/table';
import { prettyDate } from '../ui/time-format';

export interface FleetTableOptions {
  verbose?: boolean;
  now?: number;
}

function where(i: Instance): string {
  const host = i.hostname.includes(':') ? `[${i.hostname}]` : i.hostname;
  return `${i.user}@${host}:${i.port}${i.sshProxy ? `\nvia ${i.sshProxy}` : ''}`;
}

export function fleetsTable(fleets: Fleet[], opts: FleetTableOptions = {}): string {
  const verbose = Boolean(opts.verbose);
  const now = opts.now ?? Date.now();
  const headers = [
    'NAME',
    'NODES',
    'RESOURCES',
    'BACKEND',
    'PRICE',
    'STATUS',
    'CREATED',
    ...(verbose ? ['HOST', 'RUN', 'AGENT', 'ERROR'] : []),
  ];
  const rows: Cell[][] = [];
  for (const f of fleets) {
    const active = f.instances.filter((i) => i.status !== 'terminated');
    rows.push([
      f.name,
      String(active.length),
      '-',
      f.backend,
      '-',
      f.status,
      prettyDate(f.createdMs, now),
      ...(verbose ? ['', '', '', ''] : []),
    ]);
    for (const i of f.instances) {
      const resources = i.resources ? formatResources(i.resources) : '-';
      rows.push([
        `   instance=${i.instanceNum}`,
        '',
        verbose ? wrapList(resources) : resources,
        'ssh',
        '-',
        i.status,
        prettyDate(i.createdMs, now),
        ...(verbose ? [where(i), i.runName, i.agentSupervisor || '-', i.statusMessage] : []),
      ]);
    }
  }
  return renderTable(headers, rows);
}

/** Hosts whose agent runs detached (no systemd, or no root/sudo): said once under the table. */
export function detachedWarning(fleets: Fleet[]): string {
  const names = fleets.flatMap((f) =>
    f.instances.filter((i) => i.agentSupervisor === 'detached' && i.status !== 'terminated').map((i) => i.name),
  );
  if (!names.length) return '';
  return (
    `warning: on ${names.join(', ')} the agent runs as a detached process (no systemd there, or neither root nor passwordless sudo): ` +
    'it survives the SSH connection, not a reboot; the daemon starts it again when it next reaches the host\n'
  );
}
