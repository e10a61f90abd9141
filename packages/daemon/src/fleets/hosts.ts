// The hosts of the daemon's fleets as they are now: which instance rows belong to which fleet, who
// runs on them, and whether their agents answer. Reachability comes from the agent connections
// (AgentManager state) and from a watch loop that keeps reconnecting to hosts whose agent does not
// answer, with backoff: a host that comes back is found again without anyone asking.
import type { InstanceRecord } from '@dstack/backends/backend';
import { hostKeyOf } from '@dstack/backends/ssh-fleet/access';
import { fleetHostData, SSH_BACKEND, type FleetHostState } from '@dstack/backends/ssh-fleet/backend';
import { parseGpuBlocks, totalBlocks } from '@dstack/backends/ssh-fleet/blocks';
import { resolveSshHosts, type FleetConfiguration } from '@dstack/core/config/index';
import type { AgentManager } from '../agent/manager';
import type { Logger } from '../logger';
import type { InstanceRow, InstancesStore } from '../state/instances-store';
import type { RunRow, RunsStore } from '../state/runs-store';
import type { FleetRow, FleetsStore } from './store';

/** An instance row of a fleet, with what is live about it. */
export interface FleetHost {
  row: InstanceRow;
  /** idle, busy, unreachable, provisioning, failed, terminating, terminated. */
  status: string;
  message: string;
  run?: RunRow;
  /** Every unfinished run on it (several where the host is split into blocks). */
  runs: RunRow[];
  /** The host's blocks (`blocks` of its fleet file; 1: not split) and those its runs hold. */
  blocks: number;
  usedBlocks: number[];
}

/** The blocks a run on a host holds: the ones it recorded, or all of them (a run from before blocks). */
export function runBlocks(run: Pick<RunRow, 'gpuBlocks'>, total: number): number[] {
  return parseGpuBlocks(run.gpuBlocks)?.indices ?? Array.from({ length: total }, (_, i) => i);
}

interface Down {
  sinceMs: number;
  message: string;
  nextTryMs: number;
  tries: number;
}

const WATCH_EVERY_MS = 2000;
/** Hosts whose rows mean an agent was deployed there (not failed, not being removed). */
const DEPLOYED = new Set(['idle', 'busy', 'unreachable']);

export class FleetHosts {
  private readonly down = new Map<string, Down>();
  private readonly trying = new Set<string>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly d: { fleets: FleetsStore; instances: InstancesStore; runs: RunsStore; agents: AgentManager; log: Logger }) {
    d.agents.onState((key, up, err) => {
      if (!key.startsWith(`${SSH_BACKEND}/`)) return;
      if (up) this.down.delete(key);
      else if (!this.down.has(key)) this.markDown(key, err?.message ?? 'the connection to its agent dropped');
    });
  }

  private markDown(key: string, message: string): void {
    const cur = this.down.get(key);
    const tries = (cur?.tries ?? 0) + 1;
    const now = Date.now();
    this.down.set(key, { sinceMs: cur?.sinceMs ?? now, message, tries, nextTryMs: now + Math.min(30_000, 1000 * 2 ** Math.min(tries, 5)) });
  }

  /** Instance rows of a fleet (terminated ones only for a finished fleet), by number. */
  rowsOf(fleet: FleetRow): InstanceRow[] {
    const finished = fleet.status === 'terminated' || fleet.status === 'failed';
    return this.d.instances
      .list()
      .filter((r) => r.record.backend === SSH_BACKEND && fleetHostData(r.record)?.fleetId === fleet.id)
      .filter((r) => finished || r.status !== 'terminated')
      .sort((a, b) => fleetHostData(a.record).num - fleetHostData(b.record).num);
  }

  runsByInstance(): Map<string, RunRow[]> {
    const byKey = new Map<string, RunRow[]>();
    for (const r of this.d.runs.unfinished()) if (r.instanceKey) byKey.set(r.instanceKey, [...(byKey.get(r.instanceKey) ?? []), r]);
    return byKey;
  }

  /** The host's `blocks` as its fleet's stored configuration says, resolved against its resources. */
  private blocksOf(row: InstanceRow): number {
    const d = fleetHostData(row.record);
    const fleet = this.d.fleets.list().find((f) => f.id === d.fleetId);
    let blocks: number | 'auto' = 1;
    try {
      const config = JSON.parse(fleet?.configurationJson ?? '{}') as FleetConfiguration;
      const host = config.ssh_config ? resolveSshHosts(config.ssh_config).find((h) => hostKeyOf(h) === hostKeyOf(d.access)) : undefined;
      // A host's own `blocks`, else the fleet's (a host left at 1 takes the fleet-wide value).
      const own = host && host.blocks !== 1 ? host.blocks : undefined;
      blocks = own ?? config.blocks ?? 1;
    } catch {
      /* an unreadable configuration: the host is not split */
    }
    return totalBlocks(blocks, row.record.offer.resources);
  }

  /** One host now: the stored lifecycle status, refined by its runs (busy: no block free) and its agent's reachability. */
  view(row: InstanceRow, byInstance = this.runsByInstance()): FleetHost {
    const runs = byInstance.get(row.key) ?? [];
    const run = runs[0];
    const blocks = this.blocksOf(row);
    const usedBlocks = [...new Set(runs.flatMap((r) => runBlocks(r, blocks)))].sort((a, b) => a - b);
    const base = { row, run, runs, blocks, usedBlocks };
    if (!DEPLOYED.has(row.status)) return { ...base, status: row.status, message: row.statusMessage };
    const down = this.down.get(row.key);
    if (down && !this.d.agents.current(row.key)) {
      return { ...base, status: 'unreachable', message: `since ${new Date(down.sinceMs).toISOString()}: ${down.message}` };
    }
    return { ...base, status: usedBlocks.length >= blocks ? 'busy' : 'idle', message: '' };
  }

  /** Every host of every active fleet, for the ssh backend's offers. */
  states(): FleetHostState[] {
    const runs = this.runsByInstance();
    const out: FleetHostState[] = [];
    for (const fleet of this.d.fleets.list()) {
      if (fleet.status !== 'active') continue;
      for (const row of this.rowsOf(fleet)) {
        const h = this.view(row, runs);
        const ready = DEPLOYED.has(h.status);
        const note =
          h.status === 'busy'
            ? h.blocks > 1
              ? `no free block: ${h.blocks} of ${h.blocks} held by ${h.runs.map((r) => r.name).join(', ')}`
              : `busy with run ${h.run!.name}`
            : h.status === 'idle'
              ? undefined
              : `${h.status}${h.message ? `: ${h.message}` : ''}`;
        const availability = h.status === 'idle' || h.status === 'busy' || h.status === 'unreachable' ? h.status : 'unavailable';
        const held = h.runs.map((r) => ({ name: `${r.name}-0`, blocks: runBlocks(r, h.blocks) }));
        out.push({ record: row.record, availability, note, ready, totalBlocks: h.blocks, held });
      }
    }
    return out;
  }

  /** Reconnects to deployed hosts of active fleets whose agent does not answer, with backoff. */
  start(): void {
    this.timer = setInterval(() => this.watch(), WATCH_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private watch(): void {
    const now = Date.now();
    for (const fleet of this.d.fleets.list()) {
      if (fleet.status !== 'active') continue;
      for (const row of this.rowsOf(fleet)) {
        if (!DEPLOYED.has(row.status) || this.trying.has(row.key) || this.d.agents.current(row.key)) continue;
        const down = this.down.get(row.key);
        if (down && down.nextTryMs > now) continue;
        this.reconnect(row.key, row.record);
      }
    }
  }

  private reconnect(key: string, record: InstanceRecord): void {
    this.trying.add(key);
    this.d.agents
      .connect(key, record)
      .then(
        () => {
          this.down.delete(key);
          this.d.log.info(`fleet host ${record.name}: its agent answers again`);
        },
        (err: Error) => this.markDown(key, err.message),
      )
      .finally(() => this.trying.delete(key));
  }
}
