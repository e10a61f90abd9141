// The hosts of the daemon's fleets as they are now: which instance rows belong to which fleet, who
// runs on them, and whether their agents answer. Reachability comes from the agent connections
// (AgentManager state) and from a watch loop that keeps reconnecting to hosts whose agent does not
// answer, with backoff: a host that comes back is found again without anyone asking.
import type { InstanceRecord } from '@dstack/backends/backend';
import { fleetHostData, SSH_BACKEND, type FleetHostState } from '@dstack/backends/ssh-fleet/backend';
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

  runsByInstance(): Map<string, RunRow> {
    const byKey = new Map<string, RunRow>();
    for (const r of this.d.runs.unfinished()) if (r.instanceKey) byKey.set(r.instanceKey, r);
    return byKey;
  }

  /** One host now: the stored lifecycle status, refined by its run and its agent's reachability. */
  view(row: InstanceRow, runs = this.runsByInstance()): FleetHost {
    const run = runs.get(row.key);
    if (!DEPLOYED.has(row.status)) return { row, status: row.status, message: row.statusMessage, run };
    const down = this.down.get(row.key);
    if (down && !this.d.agents.current(row.key)) {
      return { row, status: 'unreachable', message: `since ${new Date(down.sinceMs).toISOString()}: ${down.message}`, run };
    }
    return { row, status: run ? 'busy' : 'idle', message: '', run };
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
            ? `busy with run ${h.run!.name}`
            : h.status === 'idle'
              ? undefined
              : `${h.status}${h.message ? `: ${h.message}` : ''}`;
        const availability = h.status === 'idle' || h.status === 'busy' || h.status === 'unreachable' ? h.status : 'unavailable';
        out.push({ record: row.record, availability, note, ready });
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
