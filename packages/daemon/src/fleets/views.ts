// Fleets and their hosts as the CLI sees them (daemon.proto Fleet and Instance).
import type { Fleet, Instance } from '@dstack/core/gen/daemon';
import { accessLabel, fleetHostData } from '@dstack/backends/ssh-fleet/index';
import type { FleetHost } from './hosts';
import type { FleetRow } from './store';

export function instanceView(h: FleetHost): Instance {
  const { record } = h.row;
  const d = fleetHostData(record);
  const resources = h.row.agentVersion ? record.offer.resources : undefined;
  return {
    name: record.name,
    hostname: d.access.hostname,
    port: d.access.port,
    status: h.status,
    statusMessage: h.message,
    resources,
    price: 0,
    runName: h.run?.name ?? '',
    arch: resources?.cpuArch ?? '',
    agentVersion: h.row.agentVersion,
    createdMs: h.row.createdMs,
    agentSupervisor: d.supervisor,
    sshProxy: d.access.proxyJump ? accessLabel(d.access.proxyJump) : '',
    instanceNum: d.num,
    user: d.access.user,
  };
}

export function fleetView(fleet: FleetRow, hosts: FleetHost[]): Fleet {
  return {
    name: fleet.name,
    status: fleet.status,
    backend: 'ssh',
    createdMs: fleet.createdMs,
    instances: hosts.map(instanceView),
    configurationJson: fleet.configurationJson,
  };
}
