// Removes one host from its fleet: its run stopped first (only when the caller was told to), then
// the agent shut down with its jobs and data (Shutdown with remove_data), the systemd unit removed,
// and the agent's folder deleted: what we installed goes, the user's files stay.
import { dataDirIn, accessLabel, fleetHostData, isDataDir, removeUnit, type SshFleetBackend } from '@dstack/backends/ssh-fleet/index';
import type { AgentManager } from '../agent/manager';
import type { Logger } from '../logger';
import type { InstancesStore } from '../state/instances-store';
import type { RunRow } from '../state/runs-store';
import type { Emit } from './deploy-host';
import type { FleetHost } from './hosts';

export interface HostRemoveDeps {
  backend: SshFleetBackend;
  agents: AgentManager;
  instances: InstancesStore;
  log: Logger;
  /** Stops a run and waits until it has ended. */
  stopRun: (run: RunRow, message: string) => Promise<void>;
}

/** Removes the host; reports through `emit`. Never throws: a host that cannot be reached is reported. */
export async function removeHost(d: HostRemoveDeps, host: FleetHost, emit: Emit): Promise<boolean> {
  const { record } = host.row;
  const data = fleetHostData(record);
  const at = (ev: Parameters<Emit>[0]) => emit({ host: accessLabel(data.access), ...ev });
  const key = host.row.key;
  at({ stage: 'removing', message: `removing ${record.name}` });
  d.instances.setStatus(key, 'terminating');
  try {
    if (host.run) {
      at({ stage: 'removing', message: `stopping run ${host.run.name}` });
      await d.stopRun(host.run, `its host ${record.name} was removed from fleet ${data.fleet}`);
      // The run's end frees the host (idle): it is still on its way out.
      d.instances.setStatus(key, 'terminating');
    }
    if (host.row.status !== 'failed' || d.agents.current(key)) {
      // Shutdown stops every job (containers, processes) and deletes the agent's data dir.
      const handle = await d.agents.connect(key, record);
      await handle.rpc.shutdown(true).catch((err: Error) => d.log.warn(`agent on ${record.name}: Shutdown failed`, { error: err.message }));
    }
    await d.agents.disconnect(key);
    if (data.home) {
      const conn = d.backend.open(data.access);
      try {
        await removeUnit(conn, data.root);
        const dir = dataDirIn(data.home);
        if (!isDataDir(dir)) throw new Error(`refusing to remove ${dir}: not the agent's folder`);
        const pidFile = `${dir}/agent.pid`;
        const res = await conn.exec(
          // An agent that outlived the Shutdown (it could not be reached) is stopped by its pid file.
          `if [ -f '${pidFile}' ]; then kill "$(cat '${pidFile}')" 2>/dev/null; fi; rm -rf '${dir}'`,
          { timeoutMs: 60_000 },
        );
        if (res.code !== 0) throw new Error(`removing ${dir} failed: ${(res.stderr || res.stdout).trim()}`);
      } finally {
        await conn.close();
      }
    }
    await d.backend.terminate(record);
    d.instances.setStatus(key, 'terminated');
    at({ stage: 'removed', message: `${record.name} removed` });
    return true;
  } catch (err) {
    await d.agents.disconnect(key).catch(() => undefined);
    await d.backend.terminate(record);
    const message = err instanceof Error ? err.message : String(err);
    // The host leaves the fleet anyway: nothing would ever run there again.
    d.instances.setStatus(key, 'terminated', `not cleaned up: ${message}`);
    d.log.warn(`fleet ${data.fleet}: could not clean up ${record.name}`, { error: message });
    at({
      stage: 'failed',
      message: `${message}; the host left the fleet, but the agent and its files may still be there: remove ${data.home ? dataDirIn(data.home) : '~/.dstack-agent'} on it by hand`,
      error: true,
    });
    return false;
  }
}
