// SSH fleets as a backend: the user's own hosts, applied with `type: fleet` and `ssh_config`. Every
// host of an active fleet is one reusable instance and one offer (backend `ssh`, price $0, the
// resources its agent reported), available while it is idle and reachable. Which hosts exist and
// what state they are in is the daemon's (fleets and runs live in its state): it hands them in as
// `instances`. This backend claims a host for a run, reaches it over SSH (through the jump host where
// there is one; host keys checked against the host's host_key pin, $DSTACK_HOME/ssh/fleet_known_hosts
// and the user's ~/.ssh/known_hosts, never trusted on first use) and starts its agent under systemd
// where the host allows.
import type { Offer } from '@dstack/core/gen/daemon';
import { NoCapacityError, type Backend, type CreateInstanceRequest, type InstanceRecord, type OfferList } from '../backend';
import type { HostConnection } from '../host-connection';
import type { Keepalive } from '../ssh-client/connect';
import { FileHostKeyStore, type AcceptedHostKey } from '../ssh-client/known-hosts';
import { SshHost } from '../ssh-client/ssh-host';
import { accessLabel, type HostAccess } from './access';
import { blockResources, pickBlocks } from './blocks';
import { scanUnknownHostKeys, type HostKeyScan } from './host-key-scan';
import { RecordingHostKeyStore } from './key-recorder';
import { MeteredHost } from './metered-host';
import { startUnit } from './systemd';

export const SSH_BACKEND = 'ssh';

/** What a fleet host's InstanceRecord.data holds. */
export interface FleetHostData {
  fleet: string;
  fleetId: string;
  num: number;
  access: HostAccess;
  /** The SSH user's home on the host ('' until first reached). */
  home: string;
  /** The SSH user is root (no sudo needed for the unit). */
  root: boolean;
  supervisor: 'systemd' | 'detached' | '';
}

export function fleetHostData(record: InstanceRecord): FleetHostData {
  return record.data as unknown as FleetHostData;
}

/** idle: offered; busy: a run is on it; unreachable, unavailable (provisioning, failed): not offered as available. */
export type FleetHostAvailability = 'idle' | 'busy' | 'unreachable' | 'unavailable';

export interface FleetHostState {
  record: InstanceRecord;
  availability: FleetHostAvailability;
  /** Why it is not idle: "busy with run x", "unreachable: ...", "provisioning". */
  note?: string;
  /** Resources are known (the agent answered at least once). */
  ready: boolean;
  /** The host's blocks (its `blocks`, resolved; 1: not split), and what the runs on it hold (run instance name `<run>-0`). */
  totalBlocks?: number;
  held?: { name: string; blocks: number[] }[];
}

export interface SshFleetBackendOptions {
  /** OpenSSH known_hosts format: the keys the user accepted, recorded on first contact, checked after. */
  knownHostsFile: string;
  /** Read-only known_hosts files whose keys count as known (the user's ~/.ssh/known_hosts). */
  userKnownHostsFiles?: () => string[];
  /** Every host of every active fleet, as the daemon sees it now. */
  instances: () => FleetHostState[];
  keepalive?: Partial<Keepalive>;
  connectTimeoutMs?: number;
}

const AVAILABILITY: Record<FleetHostAvailability, string> = {
  idle: 'available',
  busy: 'busy',
  unreachable: 'not_available',
  unavailable: 'not_available',
};

export class SshFleetBackend implements Backend {
  readonly type = SSH_BACKEND;
  /** Keys the hosts showed, for pinning them in the runs' SSH blocks. */
  readonly hostKeys: RecordingHostKeyStore;
  /**
   * Host (instanceId) → instance name of a run that claimed blocks of it (`<run>-0`) → those blocks,
   * until the daemon lists the run as holding them (or release).
   */
  private readonly claims = new Map<string, Map<string, number[]>>();
  /** A connection opened to look at a host, handed to the next connect() of its instance. */
  private readonly warm = new Map<string, HostConnection>();

  constructor(private readonly opts: SshFleetBackendOptions) {
    this.hostKeys = new RecordingHostKeyStore(new FileHostKeyStore(opts.knownHostsFile, { readOnly: opts.userKnownHostsFiles }));
  }

  get knownHostsFile(): string {
    return this.opts.knownHostsFile;
  }

  /** A (lazy) connection to a host; uploads through it are counted. `acceptedKeys`: what the user accepted in this apply. */
  open(access: HostAccess, acceptedKeys: AcceptedHostKey[] = []): MeteredHost {
    return new MeteredHost(
      new SshHost({
        hostname: access.hostname,
        port: access.port,
        user: access.user,
        identityFile: access.identityFile,
        hostKey: access.hostKey,
        proxyJump: access.proxyJump ?? undefined,
        knownHosts: this.hostKeys,
        acceptedKeys,
        keepalive: this.opts.keepalive,
        connectTimeoutMs: this.opts.connectTimeoutMs,
      }),
    );
  }

  /** The host keys of these hosts (and their jump hosts) nothing trusts yet: what apply asks about. */
  scanHostKeys(hosts: HostAccess[], accepted: AcceptedHostKey[]): Promise<HostKeyScan> {
    return scanUnknownHostKeys(hosts, accepted, {
      store: this.hostKeys,
      keepalive: { intervalMs: 10_000, countMax: 3, ...this.opts.keepalive },
      timeoutMs: this.opts.connectTimeoutMs ?? 20_000,
    });
  }

  /** Keeps an open connection for the next connect() of the instance (saves a handshake per host). */
  park(instanceId: string, conn: HostConnection): void {
    const old = this.warm.get(instanceId);
    this.warm.set(instanceId, conn);
    if (old && old !== conn) void old.close().catch(() => undefined);
  }

  /** Closes a parked connection nobody took (the agent was already connected). */
  discardWarm(instanceId: string): void {
    const warm = this.warm.get(instanceId);
    this.warm.delete(instanceId);
    void warm?.close().catch(() => undefined);
  }

  /** The blocks taken on a host: those its runs hold and those claimed by runs not recorded yet. */
  private used(s: FleetHostState): number[] {
    const total = s.totalBlocks ?? 1;
    const held = s.held ?? [];
    const claims = this.claims.get(s.record.instanceId);
    for (const h of held) claims?.delete(h.name);
    const taken = [...held.flatMap((h) => h.blocks), ...[...(claims?.values() ?? [])].flat()];
    return [...new Set(taken)].filter((b) => b < total);
  }

  private states(): FleetHostState[] {
    return this.opts.instances().map((s) => {
      const total = s.totalBlocks ?? 1;
      const used = this.used(s); // also forgets the claims the daemon now lists as held
      if (s.availability !== 'idle' || used.length < total) return s;
      const claimed = total > 1 ? `no free block: ${total} of ${total} taken` : 'claimed by a starting run';
      return { ...s, availability: 'busy', note: claimed };
    });
  }

  async offers(): Promise<OfferList> {
    const offers: Offer[] = [];
    const reasons: string[] = [];
    for (const s of this.states()) {
      const d = fleetHostData(s.record);
      const where = `ssh ${s.record.name} (${accessLabel(d.access)})`;
      if (s.availability !== 'idle') reasons.push(`${where}: ${s.note ?? s.availability}`);
      if (!s.ready) continue;
      const base = { ...s.record.offer, backend: SSH_BACKEND, instanceName: s.record.name, fleet: d.fleet, price: 0 };
      const total = s.totalBlocks ?? 1;
      const free = total - this.used(s).length;
      if (total <= 1 || s.availability !== 'idle') {
        offers.push({ ...base, availability: AVAILABILITY[s.availability], blocks: 0, totalBlocks: total > 1 ? total : 0 });
        continue;
      }
      // A split host: one offer per number of its free blocks, smallest first (dstack lists them so too).
      for (let k = 1; k <= free; k++) {
        offers.push({
          ...base,
          resources: blockResources(s.record.offer.resources, total, k),
          availability: AVAILABILITY.idle,
          blocks: k,
          totalBlocks: total,
        });
      }
    }
    return { offers, reasons };
  }

  async createInstance(req: CreateInstanceRequest): Promise<InstanceRecord> {
    const state = this.states().find((s) => s.record.name === req.offer.instanceName && fleetHostData(s.record).fleet === req.offer.fleet);
    if (!state) throw new NoCapacityError(`fleet host ${req.offer.instanceName} is gone (its fleet was deleted or changed)`);
    const id = state.record.instanceId;
    const claims = this.claims.get(id) ?? new Map<string, number[]>();
    const mine = claims.get(req.name) ?? state.held?.find((h) => h.name === req.name)?.blocks;
    const total = state.totalBlocks ?? 1;
    if (mine) return total > 1 ? { ...state.record, blocks: { indices: mine, total } } : state.record; // a resumed call
    if (state.availability !== 'idle') throw new NoCapacityError(`fleet host ${state.record.name} is ${state.note ?? state.availability}`);
    const k = total > 1 ? req.offer.blocks || total : 1;
    const picked = pickBlocks(total, this.used(state), k);
    if (!picked) {
      throw new NoCapacityError(
        `fleet host ${state.record.name}: ${k} of its ${total} blocks are not free (${state.note ?? 'taken by other runs'})`,
      );
    }
    // Claimed before any await: two runs planning at once cannot both take the same blocks.
    claims.set(req.name, picked);
    this.claims.set(id, claims);
    return total > 1 ? { ...state.record, blocks: { indices: picked, total } } : state.record;
  }

  async connect(instance: InstanceRecord): Promise<HostConnection> {
    const warm = this.warm.get(instance.instanceId);
    if (warm) {
      this.warm.delete(instance.instanceId);
      return warm;
    }
    return this.open(fleetHostData(instance).access);
  }

  /** A systemd unit where the host allows one; null: the daemon starts the agent detached. */
  async startAgent(conn: HostConnection, instance: InstanceRecord): Promise<number | null> {
    const d = fleetHostData(instance);
    if (d.supervisor !== 'systemd') return null;
    return startUnit(conn, instance.agent, { user: d.access.user, root: d.root });
  }

  async release(instance: InstanceRecord): Promise<void> {
    this.claims.delete(instance.instanceId);
  }

  /** Hosts are the user's: nothing to delete. Uninstalling the agent is the fleet's delete. */
  async terminate(instance: InstanceRecord): Promise<void> {
    this.claims.delete(instance.instanceId);
    const warm = this.warm.get(instance.instanceId);
    this.warm.delete(instance.instanceId);
    await warm?.close().catch(() => undefined);
  }
}
