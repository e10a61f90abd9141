// A GPU cloud as a Backend, whatever the provider: offers from its catalog (cached a few minutes,
// fetched under a deadline so one slow provider cannot hold a plan), and instances made for one run
// each. Every instance is named with the daemon's prefix, so a daemon that died between the
// provider's answer and its own record finds it again by name (createInstance adopts it; the orphan
// sweep terminates what no run owns). The host key is read from the instance at its first answer,
// at the address the provider gave over HTTPS, and pinned for the instance's life: nothing later
// can swap the host. An instance that never answers SSH is terminated before the error is thrown.
import type { Offer } from '@dstack/core/gen/daemon';
import {
  NoCapacityError,
  type Backend,
  type InstanceEnd,
  type CreateInstanceRequest,
  type InstanceRecord,
  type OfferList,
  type OfferQuery,
} from '../backend';
import type { HostConnection } from '../host-connection';
import { canSudo, hasSystemd, homeDir } from '../host-probe';
import { scanHostKey } from '../ssh-client/connect';
import { hostKeyText, type HostKeyStore } from '../ssh-client/known-hosts';
import { SshHost } from '../ssh-client/ssh-host';
import { fleetAgentPlacement } from '../ssh-fleet/placement';
import { startUnit } from '../ssh-fleet/systemd';
import { CONTAINER_INSTANCE_ENV } from '@dstack/core/cloud-types';
import type { CloudInstance, Compute, ContainerLaunch } from './compute';
import { CONTAINER_SSH_PORT, containerBootstrap, IMAGE_NEEDS } from './container-bootstrap';
import { cloudError, isCloudError } from './cloud-error';
import { withDeadline } from './deadline';

export interface CloudBackendOptions {
  /** "lambda", "runpod", "vastai": Offer.backend. */
  type: string;
  compute: Compute;
  /** The daemon's mark on every instance it creates: `dstack-<daemon id>-`. */
  namePrefix: string;
  /** `regions:` of the backend's entry; null: all. */
  regions: string[] | null;
  /** The daemon's private key (its public half goes to the provider). */
  identityFile: string;
  /** Where instances download the agent themselves (AgentPlacement.agentUrl). */
  agentUrl?: string | null;
  hostKeys: HostKeyStore;
  offersTtlMs?: number;
  offersDeadlineMs?: number;
  /** This backend's instances kept idle after their run (idle_duration), still within it: offered first. */
  idleInstances?: () => InstanceRecord[];
  /** How long an instance may take from create to its first SSH answer. */
  bootDeadlineMs?: number;
  pollMs?: number;
  log?: (message: string) => void;
}

/** What a cloud instance's InstanceRecord.data holds. */
export interface CloudInstanceData {
  ip: string;
  port: number;
  user: string;
  /** "ssh-ed25519 AAAA...", read at the first answer and pinned. */
  hostKey: string;
  supervisor: 'systemd' | 'detached';
  root: boolean;
}

export function cloudInstanceData(record: InstanceRecord): CloudInstanceData {
  return record.data as unknown as CloudInstanceData;
}

/** When an instance kept after its run (idle_duration) is to go: its idle spell; 0 when not kept. */
export function idleUntilOf(r: InstanceRecord): number {
  return Number((r.data as { idleUntilMs?: number } | undefined)?.idleUntilMs ?? 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class CloudBackend implements Backend {
  readonly type: string;
  /**
   * Idle instances claimed by a starting run: id → the idle spell claimed (its idleUntilMs). The
   * claim lasts while that spell is listed; once the run has it (busy) or a later run's end makes
   * it idle again (another spell), the claim is over.
   */
  private readonly claims = new Map<string, number>();
  private cache?: { at: number; offers: Promise<Offer[]> };
  /** Connections opened while creating, handed to the first connect(). */
  private readonly warm = new Map<string, SshHost>();

  constructor(private readonly opts: CloudBackendOptions) {
    this.type = opts.type;
  }

  /**
   * VMs are kept idle after a run (idle_duration); a container cloud's instance is its run's image,
   * which the next run may not share, so it goes with its run.
   */
  get keepsIdle(): boolean {
    return !this.opts.compute.containers;
  }

  get containerCloud(): boolean {
    return !!this.opts.compute.containers;
  }

  get namePrefix(): string {
    return this.opts.namePrefix;
  }

  /** The provider's network volumes (RunPod, Lambda), where it has them. */
  get volumes() {
    return this.opts.compute.volumes;
  }

  /** The catalog (cached), narrowed to the entry's regions. */
  async offers(_query?: OfferQuery): Promise<OfferList> {
    const ttl = this.opts.offersTtlMs ?? 180_000;
    const now = Date.now();
    if (!this.cache || now - this.cache.at > ttl) {
      const offers = this.opts.compute.offers();
      this.cache = { at: now, offers };
      // A failed fetch is not kept: the next plan asks again.
      offers.catch(() => {
        if (this.cache?.offers === offers) this.cache = undefined;
      });
    }
    const deadline = this.opts.offersDeadlineMs ?? 10_000;
    try {
      const all = await withDeadline(
        this.cache.offers,
        deadline,
        `no answer within ${deadline / 1000}s; its offers are left out of this plan`,
      );
      const regions = this.opts.regions;
      return { offers: [...this.idleOffers(), ...(regions ? all.filter((o) => regions.includes(o.region)) : all)], reasons: [] };
    } catch (err) {
      const message = (err as Error).message;
      const line = message.startsWith(`${this.type}:`) ? message : `${this.type}: ${message}`;
      return { offers: [], reasons: [line], error: line };
    }
  }

  /** Whether a starting run holds this idle spell of the instance. */
  private claimed(r: InstanceRecord): boolean {
    const spell = this.claims.get(r.instanceId);
    return spell !== undefined && spell === idleUntilOf(r);
  }

  /** An instance kept after its run (idle_duration), as an offer of itself: nothing to create, its agent there. */
  private idleOffers(): Offer[] {
    const idle = this.opts.idleInstances?.() ?? [];
    // A claim ends once its run has recorded the instance as busy (it is no longer listed idle).
    return idle.filter((r) => !this.claimed(r)).map((r) => ({ ...r.offer, instanceName: r.name, availability: 'available' }));
  }

  /** Forgets the cached catalog (an offer turned out to have no capacity). */
  invalidateOffers(): void {
    this.cache = undefined;
  }

  async createInstance(req: CreateInstanceRequest): Promise<InstanceRecord> {
    const { compute } = this.opts;
    if (req.offer.instanceName) {
      const idle = (this.opts.idleInstances?.() ?? []).find((r) => r.name === req.offer.instanceName && !this.claimed(r));
      if (!idle) throw new NoCapacityError(`${this.type}: idle instance ${req.offer.instanceName} is taken or gone`);
      // Claimed before any await: two runs planning at once cannot both take it.
      this.claims.set(idle.instanceId, idleUntilOf(idle));
      try {
        const inst = await compute.get(idle.instanceId);
        if (inst?.state !== 'running')
          throw new NoCapacityError(`${this.type}: idle instance ${idle.name} is ${inst?.providerState ?? 'gone'}`);
      } catch (err) {
        this.claims.delete(idle.instanceId);
        throw err;
      }
      this.opts.log?.(`${this.type}: reusing idle instance ${idle.name} (${idle.instanceId}) for ${req.name}`);
      const { idleUntilMs: _, ...data } = (idle.data ?? {}) as Record<string, unknown>;
      return { ...idle, data };
    }
    const name = `${this.opts.namePrefix}${req.name}`;
    // A daemon that died after the provider's answer finds its instance by name.
    const existing = (await compute.list()).find((i) => i.name === name && i.state !== 'terminated' && i.state !== 'failed');
    let id: string;
    if (existing) {
      id = existing.id;
      this.opts.log?.(`${this.type}: adopting instance ${name} (${id}), made before a restart`);
    } else {
      try {
        id = await compute.create({
          offer: req.offer,
          name,
          sshPublicKey: req.sshPublicKey,
          container: this.containerLaunch(req),
          ...(req.volumes?.length ? { volumes: req.volumes } : {}),
        });
      } catch (err) {
        if (isCloudError(err, 'provider-down')) {
          // Maybe made anyway: look once more before giving up (the sweep catches a late one).
          const late = (await compute.list().catch(() => [])).find((i) => i.name === name && i.state !== 'terminated');
          if (!late) throw err;
          id = late.id;
        } else {
          if ((err as Error).name === 'NoCapacityError') this.invalidateOffers();
          throw err;
        }
      }
      this.opts.log?.(`${this.type}: created instance ${name} (${id}) in ${req.offer.region}, ${req.offer.instanceType}`);
    }
    try {
      return await this.waitReady(id, name, req);
    } catch (err) {
      await compute.terminate(id).catch((e: Error) => this.opts.log?.(`${this.type}: could not terminate ${name} (${id}): ${e.message}`));
      this.opts.log?.(`${this.type}: terminated instance ${name} (${id}): ${(err as Error).message}`);
      throw err;
    }
  }

  /** A container cloud's instance: the run's image, the bootstrap as its command. */
  private containerLaunch(req: CreateInstanceRequest): ContainerLaunch | undefined {
    if (!this.opts.compute.containers) return undefined;
    if (!req.image) throw new Error(`${this.type}: a run on a container cloud needs an image`);
    return {
      image: req.image,
      command: ['/bin/sh', '-c', containerBootstrap({ publicKey: req.sshPublicKey })],
      sshPort: CONTAINER_SSH_PORT,
      env: {},
      diskGb: Math.max(10, Math.ceil(req.offer.resources?.diskGb ?? 0) || 0),
    };
  }

  /** Polls until the instance runs and its sshd answers; pins its host key; probes its home and supervisor. */
  private async waitReady(id: string, name: string, req: CreateInstanceRequest): Promise<InstanceRecord> {
    const deadlineMs = this.opts.bootDeadlineMs ?? 10 * 60_000;
    const until = Date.now() + deadlineMs;
    const poll = this.opts.pollMs ?? 5000;
    let inst: CloudInstance | null = null;
    let last = '';
    for (;;) {
      try {
        // A poll that hangs (each call retries on its own) cannot carry the wait past the deadline.
        inst = await withDeadline(
          this.opts.compute.get(id),
          Math.max(1, until - Date.now()),
          `${this.type}: no answer about instance ${name} before the boot deadline`,
        ).catch((err: Error) => {
          if (err.message.includes('before the boot deadline')) throw cloudError(this.type, 'provider-down', err.message);
          throw err;
        });
        if (!inst) throw new Error(`${this.type}: instance ${name} (${id}) is gone`);
        if (inst.state === 'terminated' || inst.state === 'failed') {
          throw new Error(`${this.type}: instance ${name} (${id}) ended while starting (${inst.providerState})`);
        }
        if (inst.state === 'stopped' && this.opts.compute.containers) {
          // The bootstrap ended: most often an image it cannot get an sshd into.
          const why = inst.statusMessage ? `: ${inst.statusMessage}` : '';
          throw new Error(`${this.type}: the container of ${name} exited while starting (${inst.providerState}${why}); ${IMAGE_NEEDS}`);
        }
        last = inst.providerState;
        if (inst.state === 'running' && inst.ip) {
          const key = await this.scan(inst).catch((e: Error) => {
            last = `${inst!.providerState}, sshd not answering: ${e.message}`;
            return undefined;
          });
          if (key) return await this.record(inst, key, req);
        }
      } catch (err) {
        // A poll that failed (a 5xx, a timeout) is tried again until the deadline; anything else ends it.
        if (!isCloudError(err, 'provider-down')) throw err;
        last = (err as Error).message;
      }
      if (Date.now() + poll > until) {
        throw new Error(
          `${this.type}: instance ${name} did not answer SSH within ${Math.round(deadlineMs / 1000)}s (last: ${last}); it was terminated`,
        );
      }
      await sleep(poll);
    }
  }

  private scan(inst: CloudInstance): Promise<string> {
    return scanHostKey({
      target: { hostname: inst.ip, port: inst.sshPort, user: inst.sshUser },
      knownHosts: this.opts.hostKeys,
      keepalive: { intervalMs: 10_000, countMax: 3 },
      timeoutMs: 10_000,
      description: `ssh ${inst.sshUser}@${inst.ip}:${inst.sshPort}`,
    }).then(hostKeyText);
  }

  private open(ip: string, port: number, user: string, hostKey: string): SshHost {
    return new SshHost({ hostname: ip, port, user, identityFile: this.opts.identityFile, hostKey, knownHosts: this.opts.hostKeys });
  }

  private async record(inst: CloudInstance, hostKey: string, req: CreateInstanceRequest): Promise<InstanceRecord> {
    const conn = this.open(inst.ip, inst.sshPort, inst.sshUser, hostKey);
    try {
      const [home, systemd, sudo, root] = await Promise.all([
        homeDir(conn),
        hasSystemd(conn),
        canSudo(conn),
        conn.exec('[ "$(id -u)" = 0 ]').then((r) => r.code === 0),
      ]);
      const data: CloudInstanceData = {
        ip: inst.ip,
        port: inst.sshPort,
        user: inst.sshUser,
        hostKey,
        supervisor: systemd && sudo ? 'systemd' : 'detached',
        root,
      };
      this.warm.set(inst.id, conn);
      return {
        instanceId: inst.id,
        name: inst.name,
        backend: this.type,
        region: inst.region || req.offer.region,
        price: req.offer.price,
        offer: req.offer,
        agent: {
          ...fleetAgentPlacement(home),
          ...(this.opts.agentUrl ? { agentUrl: this.opts.agentUrl } : {}),
          ...(this.opts.compute.containers ? { env: { [CONTAINER_INSTANCE_ENV]: '1' } } : {}),
        },
        sshProxy: { hostname: inst.ip, port: inst.sshPort, user: inst.sshUser, identityFile: this.opts.identityFile, hostKeys: [hostKey] },
        reusable: false,
        data: data as unknown as Record<string, unknown>,
      };
    } catch (err) {
      await conn.close().catch(() => undefined);
      throw err;
    }
  }

  async connect(instance: InstanceRecord): Promise<HostConnection> {
    const warm = this.warm.get(instance.instanceId);
    if (warm) {
      this.warm.delete(instance.instanceId);
      return warm;
    }
    const d = cloudInstanceData(instance);
    return this.open(d.ip, d.port, d.user, d.hostKey);
  }

  /** A systemd unit (as root) where the image has systemd and sudo; else the daemon starts it detached. */
  async startAgent(conn: HostConnection, instance: InstanceRecord): Promise<number | null> {
    const d = cloudInstanceData(instance);
    if (d.supervisor !== 'systemd') return null;
    return startUnit(conn, instance.agent, { user: d.user, root: d.root });
  }

  /** One run per instance: the run's end is the instance's end. */
  async release(instance: InstanceRecord): Promise<void> {
    await this.terminate(instance);
  }

  async terminate(instance: InstanceRecord): Promise<void> {
    this.claims.delete(instance.instanceId);
    const warm = this.warm.get(instance.instanceId);
    this.warm.delete(instance.instanceId);
    await warm?.close().catch(() => undefined);
    await this.opts.compute.terminate(instance.instanceId);
    this.opts.log?.(`${this.type}: terminated instance ${instance.name} (${instance.instanceId})`);
  }

  /** Instances that carry this daemon's prefix and are not yet gone: what the orphan sweep looks at. */
  async ownedInstances(): Promise<CloudInstance[]> {
    return (await this.opts.compute.list()).filter(
      (i) => i.name.startsWith(this.opts.namePrefix) && i.state !== 'terminated' && i.state !== 'failed',
    );
  }

  /** Terminates an instance the sweep found unowned. */
  terminateById(id: string): Promise<void> {
    this.claims.delete(id);
    return this.opts.compute.terminate(id);
  }

  check(): Promise<void> {
    return this.opts.compute.check();
  }

  async instanceEnded(instance: InstanceRecord): Promise<InstanceEnd | undefined> {
    const inst = await this.opts.compute.get(instance.instanceId);
    const what = `${this.type} instance ${instance.name}`;
    if (!inst) return { interrupted: false, message: `${what} no longer exists at the provider` };
    if (inst.state === 'running' || inst.state === 'pending') return undefined;
    return {
      interrupted: !!inst.interrupted,
      ...(inst.oomKilled ? { failed: 'container_exited_with_error' as const } : {}),
      message: `${what} is ${inst.providerState}${inst.statusMessage ? ` (${inst.statusMessage})` : ''}`,
    };
  }
}
