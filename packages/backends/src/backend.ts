// One interface for every place a run can go: this machine (local), the user's own hosts (ssh
// fleets), clouds. A backend knows offers and instances; it knows nothing about runs, jobs or the
// CLI. The daemon deploys the agent through the HostConnection a backend hands back, so agent
// deployment is one code path for all of them.
import type { Offer } from '@dstack/core/gen/daemon';
import type { ResourcesSpec } from '@dstack/core/resources/types';
import type { HostConnection } from './host-connection';
import type { VolumeAttachment, VolumeSupport } from './volumes';

/** An SSH endpoint, for `ssh` config blocks: a host's own sshd, reached maybe through a jump host. */
export interface SshEndpoint {
  hostname: string;
  port: number;
  user: string;
  /** Private key for this hop; the daemon's own key when empty. */
  identityFile?: string;
  /** Pinned host key line(s) of this hop ("ssh-ed25519 AAAA..."), when known. */
  hostKeys?: string[];
  proxyJump?: SshEndpoint;
}

/** Where the agent lives on an instance; absolute paths on that host. */
export interface AgentPlacement {
  /** The agent's data dir (`serve --data-dir`): jobs, blobs, logs. */
  dataDir: string;
  /** Where the executable is installed. */
  binPath: string;
  /** The agent's gRPC unix socket on the host. */
  socketPath: string;
  logFile: string;
  /** Extra environment for the agent process (e.g. DOCKER_HOST). */
  env?: Record<string, string>;
  /**
   * Where the host may download the agent itself (`{arch}`: x64 or arm64) instead of receiving it
   * from this machine; what it gets must have the daemon's own sha256, else it is uploaded.
   */
  agentUrl?: string;
}

/** An instance as the daemon stores it: everything needed to reach it again after a restart. */
export interface InstanceRecord {
  /** Stable id within its backend ("local", a fleet host's name, a cloud instance id). */
  instanceId: string;
  /** The name shown to the user. */
  name: string;
  backend: string;
  region: string;
  price: number;
  /** The offer it was made from (resources, spot). */
  offer: Offer;
  agent: AgentPlacement;
  /**
   * How OpenSSH reaches the host, for the jump in a run's SSH block; absent when the job's SSH port
   * on 127.0.0.1 is reachable from here (this machine).
   */
  sshProxy?: SshEndpoint;
  /** Shared by several runs and kept after a run (this machine, fleet hosts), or made for one run. */
  reusable: boolean;
  /** Backend-specific data, kept as JSON by the daemon and handed back as is. */
  data?: Record<string, unknown>;
  /**
   * createInstance's answer only: the blocks of a host split into blocks (fleet `blocks`) the run
   * got; the daemon keeps them with the run, never in the instance's record.
   */
  blocks?: { indices: number[]; total: number };
}

/**
 * What the run asks for. A backend may use it to narrow what it lists (a cloud catalog); it need
 * not: the daemon's planner matches every offer against it anyway.
 */
export interface OfferQuery {
  resources: ResourcesSpec;
  /** true: spot only; false: on-demand only; null: either. */
  spot: boolean | null;
  /** Dollars per hour; null: no limit. */
  maxPrice: number | null;
  regions: string[] | null;
}

export interface OfferList {
  /** The backend's offers now (narrowed by the query or not): the daemon's planner matches the resource spec. */
  offers: Offer[];
  /** Why the backend has no offers, or fewer than it might (a host unreachable), one line each. */
  reasons: string[];
  /** The backend could not list its offers at all (a refused key, no answer in time): shown even when others fit. */
  error?: string;
}

export interface CreateInstanceRequest {
  offer: Offer;
  /** Name for a new instance (`<run>-0`); reusable backends keep their own. */
  name: string;
  /** The daemon's public key, for backends that put it on a new VM. */
  sshPublicKey: string;
  /** The run's image: what a container cloud's instance runs (the bootstrap in front of it). */
  image?: string;
  /**
   * Where a backend whose instances wait in a queue (a cluster scheduler) says why, as it changes
   * ("pending (Resources)"): shown as the run's status message.
   */
  report?: (message: string) => void;
  /**
   * The run's resources as asked: a backend whose offers are whole nodes of a shared cluster
   * (Kubernetes) requests what the run asked for, not the whole node; shm_size among them.
   */
  resources?: ResourcesSpec;
  /** Network volumes the instance is made with (Backend.volumes), each at its path in the run's container. */
  volumes?: VolumeAttachment[];
  /** The run's max_duration in seconds: a scheduler's time limit for the instance (Slurm's --time); absent: none. */
  maxDurationS?: number;
  /**
   * Aborted when the run no longer wants the instance (stopped, or the daemon is shutting down): a
   * backend that waits in a queue stops waiting and leaves what it made (a daemon started again
   * resumes it by name; the orphan sweep removes what no run owns).
   */
  signal?: AbortSignal;
}

export interface Backend {
  /** "local", "ssh", "runpod", ... as Offer.backend says. */
  readonly type: string;
  offers(query?: OfferQuery): Promise<OfferList>;
  /**
   * Creates an instance for one of this backend's offers, or reuses the existing one an offer names
   * (Offer.instance_name). Idempotent by `name`: a daemon that died mid-call calls it again.
   * Throws NoCapacityError when the offer is gone.
   */
  createInstance(req: CreateInstanceRequest): Promise<InstanceRecord>;
  /** A connection to the instance's host, for deploying and reaching the agent. */
  connect(instance: InstanceRecord): Promise<HostConnection>;
  /**
   * Starts the agent the backend's own way (a systemd unit on a fleet host) and returns its pid;
   * absent, or null: the daemon starts it as a detached process.
   */
  startAgent?(conn: HostConnection, instance: InstanceRecord): Promise<number | null>;
  /**
   * The run on the instance ended: a reusable instance goes back to its pool; any other is deleted
   * (idle_duration is the caller's business).
   */
  release(instance: InstanceRecord): Promise<void>;
  /** Deletes the instance for good (a no-op for this machine). */
  terminate(instance: InstanceRecord): Promise<void>;
  /**
   * Instances made for one run may be kept idle after it for another (the run's `idle_duration`): the
   * daemon then keeps the record as `idle` instead of calling release, and the backend offers it.
   */
  readonly keepsIdle?: boolean;
  /**
   * The instance is the run's own container, started by the provider (RunPod, Vast.ai): what the
   * daemon would do to the container itself (a private registry login, privileged mode) it cannot.
   */
  readonly containerCloud?: boolean;
  /**
   * Whether the instance ended at the provider (asked while its agent is silent): taken back (a spot
   * reclaim: an `interruption` retry event), or its container exited, or gone; undefined while the
   * provider still shows it up.
   */
  instanceEnded?(instance: InstanceRecord): Promise<InstanceEnd | undefined>;
  /** A cluster's capacity now, free of total per node, for `dstack backend list` (as `dstack fleet` lists hosts). */
  describe?(): Promise<string>;
  /** Network volumes, where the backend has them (volumes.ts); absent: a run naming one cannot go here. */
  readonly volumes?: VolumeSupport;
  /**
   * Jobs run on the host itself, never in a container (a Slurm job's step): the plan leaves the
   * backend out for a run that names an image or wants Docker, saying so.
   */
  readonly hostOnly?: boolean;
}

export interface InstanceEnd {
  /** The provider took it back (outbid, preempted). */
  interrupted: boolean;
  /** The run's container itself failed (a cluster's OOM kill): the run ends with this reason, whatever its limits. */
  failed?: 'container_exited_with_error';
  /** The provider's words, naming the instance. */
  message: string;
}

/**
 * The instance cannot run the run's container (an image its cluster cannot pull): the run fails
 * with `creating_container_error`, not as an instance that never answered.
 */
export class ContainerCreateError extends Error {
  override name = 'ContainerCreateError';
}

/** The offer exists no more, or the provider has no capacity for it: a `no-capacity` retry event. */
export class NoCapacityError extends Error {
  override name = 'NoCapacityError';
}
