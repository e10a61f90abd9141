// Deploys one fleet host: connect (through the jump host where given; host keys checked against the
// pins and known_hosts files, or recorded when the user accepted them for this apply), look at it (home, systemd, root or sudo), record it as an instance, then
// the agent deployment every backend shares (arch, upload only when the host lacks that exact build,
// start: a systemd unit where the host allows, else detached), and its resources from the agent.
import { formatBytes } from '@dstack/core/bytes';
import type { FleetEvent } from '@dstack/core/gen/daemon';
import { formatResources } from '@dstack/core/offers/format';
import type { InstanceRecord, SshEndpoint } from '@dstack/backends/backend';
import { canSudo, hasSystemd, homeDir } from '@dstack/backends/host-probe';
import { resourcesFromHostInfo } from '@dstack/backends/local/local-backend';
import {
  accessLabel,
  fleetAgentPlacement,
  MeteredHost,
  SSH_BACKEND,
  unitPid,
  type FleetHostData,
  type HostAccess,
  type SshFleetBackend,
} from '@dstack/backends/ssh-fleet/index';
import type { AcceptedHostKey } from '@dstack/backends/ssh-client/known-hosts';
import type { AgentManager } from '../agent/manager';
import type { Logger } from '../logger';
import { instanceKey, type InstancesStore } from '../state/instances-store';
import type { HostChange } from './diff';
import type { FleetRow } from './store';

export interface HostDeployDeps {
  backend: SshFleetBackend;
  agents: AgentManager;
  instances: InstancesStore;
  log: Logger;
}

export type Emit = (ev: Partial<FleetEvent> & { stage: string }) => void;

export const DETACHED_WARNING =
  'the agent runs as a detached process (no systemd, or neither root nor passwordless sudo): it survives the SSH connection, ' +
  'not a reboot; the daemon starts it again when it next reaches the host';

export function fleetInstanceId(fleet: FleetRow, hostKey: string): string {
  return `${fleet.id}/${hostKey}`;
}

function endpoint(a: HostAccess, keys: SshFleetBackend['hostKeys']): SshEndpoint {
  const key = keys.keyOf(a.hostname, a.port);
  const jump = a.proxyJump;
  const jumpKey = jump && keys.keyOf(jump.hostname, jump.port);
  return {
    hostname: a.hostname,
    port: a.port,
    user: a.user,
    identityFile: a.identityFile,
    hostKeys: key ? [key] : undefined,
    proxyJump: jump ? { ...jump, hostKeys: jumpKey ? [jumpKey] : undefined } : undefined,
  };
}

/** Deploys the host of `change` (add or redeploy); reports every stage through `emit`. Never throws. */
export async function deployHost(
  d: HostDeployDeps,
  fleet: FleetRow,
  change: HostChange,
  env: Record<string, string>,
  emit: Emit,
  opts: {
    /** Env names whose values are secrets: used for this deploy, never stored. */
    secretNames?: ReadonlySet<string>;
    /** Host keys the user accepted in this apply. */
    accepted?: AcceptedHostKey[];
  } = {},
): Promise<boolean> {
  const secretNames = opts.secretNames ?? new Set<string>();
  const a = change.access;
  const label = accessLabel(a);
  const at = (ev: Partial<FleetEvent> & { stage: string }) => emit({ host: label, ...ev });
  const instanceId = fleetInstanceId(fleet, change.key);
  const key = instanceKey(SSH_BACKEND, instanceId);
  const before = d.instances.get(key);
  let record: InstanceRecord = {
    instanceId,
    name: `${fleet.name}-${change.num}`,
    backend: SSH_BACKEND,
    region: 'remote',
    price: 0,
    offer: before?.record.offer ?? {
      backend: SSH_BACKEND,
      region: 'remote',
      instanceType: 'ssh',
      spot: false,
      price: 0,
      availability: 'available',
      instanceName: '',
      fleet: fleet.name,
    },
    agent: before?.record.agent ?? fleetAgentPlacement(''),
    reusable: true,
    data: {
      fleet: fleet.name,
      fleetId: fleet.id,
      num: change.num,
      access: a,
      home: '',
      root: false,
      supervisor: '',
    } satisfies FleetHostData as unknown as Record<string, unknown>,
  };
  // A redeploy starts from the top: the agent is checked (and started) again, not assumed.
  if (d.agents.current(key)) await d.agents.disconnect(key);
  d.instances.upsert(record, 'provisioning');
  at({ stage: 'connecting', message: `connecting${a.proxyJump ? ` through ${accessLabel(a.proxyJump)}` : ''}` });
  const conn = d.backend.open(a, opts.accepted);
  let progress: NodeJS.Timeout | undefined;
  const stopProgress = () => {
    if (progress) clearInterval(progress);
    progress = undefined;
  };
  try {
    const [home, systemd, sudo, root] = await Promise.all([
      homeDir(conn),
      hasSystemd(conn),
      canSudo(conn),
      conn.exec('[ "$(id -u)" = 0 ]').then((r) => r.code === 0),
    ]);
    const data: FleetHostData = {
      fleet: fleet.name,
      fleetId: fleet.id,
      num: change.num,
      access: a,
      home,
      root,
      supervisor: systemd && sudo ? 'systemd' : 'detached',
    };
    record = {
      ...record,
      agent: fleetAgentPlacement(home, env),
      sshProxy: endpoint(a, d.backend.hostKeys),
      data: data as unknown as Record<string, unknown>,
    };
    const storedEnv = Object.fromEntries(Object.entries(env).filter(([k]) => !secretNames.has(k)));
    const stored = (r: InstanceRecord): InstanceRecord => ({ ...r, agent: fleetAgentPlacement(home, storedEnv) });
    d.instances.upsert(stored(record), 'provisioning');
    d.backend.park(instanceId, conn);
    const handle = await d.agents.connect(key, record, (stage, message) => {
      stopProgress();
      at({ stage, message });
      if (stage === 'uploading_agent') {
        progress = setInterval(
          () =>
            at({ stage, progress: { kind: 'agent', current: conn.uploadedBytes, total: 0, message }, uploadedBytes: conn.uploadedBytes }),
          500,
        );
        progress.unref();
      }
    });
    stopProgress();
    d.backend.discardWarm(instanceId);
    const info = await handle.rpc.getHostInfo();
    // The unit runs the agent only when its pid is the one that answered (an older detached agent may still be the one).
    if (data.supervisor === 'systemd' && (await unitPid(handle.conn)) !== handle.handshake.pid) data.supervisor = 'detached';
    const uploaded = handle.conn instanceof MeteredHost ? handle.conn.uploadedBytes : conn.uploadedBytes;
    const resources = resourcesFromHostInfo(info);
    record = {
      ...record,
      offer: { ...record.offer, resources, instanceName: record.name, fleet: fleet.name },
      data: data as unknown as Record<string, unknown>,
    };
    d.instances.upsert(stored(record), 'idle');
    d.instances.setStatus(key, 'idle');
    d.instances.setAgent(key, {
      version: handle.handshake.agentVersion,
      sha256: handle.handshake.agentSha256,
      instanceId: handle.handshake.instanceId,
    });
    if (data.supervisor === 'detached') at({ stage: 'starting_agent', message: DETACHED_WARNING, warning: true });
    const sent = uploaded ? `agent uploaded (${formatBytes(uploaded)} compressed)` : 'agent already there (nothing uploaded)';
    at({ stage: 'ready', message: `${formatResources(resources)}; ${sent}; ${data.supervisor}`, uploadedBytes: uploaded });
    d.log.info(`fleet ${fleet.name}: ${record.name} (${label}) ready`, { uploaded, supervisor: data.supervisor });
    return true;
  } catch (err) {
    stopProgress();
    d.backend.discardWarm(instanceId);
    await conn.close().catch(() => undefined);
    const message = err instanceof Error ? err.message : String(err);
    d.instances.upsert({ ...record, agent: { ...record.agent, env: undefined } }, 'failed');
    d.instances.setStatus(key, 'failed', message);
    d.log.warn(`fleet ${fleet.name}: ${label} failed`, { error: message });
    at({ stage: 'failed', message, error: true, uploadedBytes: conn.uploadedBytes });
    return false;
  }
}
