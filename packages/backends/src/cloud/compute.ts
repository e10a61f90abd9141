// What one GPU cloud must do, as dstack's `Compute`: its catalog, and create / look up / list /
// terminate instances. Everything else (caching offers, waiting for SSH, pinning the host key,
// naming instances as ours, reaping orphans) is CloudBackend's, the same for every provider.
import type { Offer } from '@dstack/core/gen/daemon';
import type { VolumeAttachment, VolumeSupport } from '../volumes';

/** An instance as the provider shows it, in the words every backend uses. */
export interface CloudInstance {
  id: string;
  /** The name it was created with (the daemon's prefix + the run's instance name). */
  name: string;
  /** pending: not up yet; running: up (may still be booting sshd); stopped; terminated; failed. */
  state: 'pending' | 'running' | 'stopped' | 'terminated' | 'failed';
  /** The provider's own state word, for messages ("booting", "unhealthy"). */
  providerState: string;
  /** Where its sshd answers, once known. */
  ip: string;
  sshPort: number;
  sshUser: string;
  region: string;
  createdMs?: number;
  /** Container clouds: why the container stopped, as the provider says (a status message, an exit). */
  statusMessage?: string;
  /** The provider took a spot instance back (outbid, preempted): the run ends with `interruption`. */
  interrupted?: boolean;
  /** The run's container was killed for going over its memory limit (a cluster's OOMKilled). */
  oomKilled?: boolean;
}

/**
 * What a container cloud's instance runs: the run's own image, with the bootstrap (sshd for the
 * daemon's key) as its command. VM clouds ignore it.
 */
export interface ContainerLaunch {
  image: string;
  /** Replaces the image's entrypoint and command: `['/bin/sh', '-c', script]`. */
  command: string[];
  /** The port sshd listens on inside the container; the provider maps it to a public one. */
  sshPort: number;
  /** Environment for the container (none secret: keys go in over SSH). */
  env: Record<string, string>;
  /** The container's disk. */
  diskGb: number;
}

export interface CreateRequest {
  offer: Offer;
  /** The full name, prefix included: how the instance is found again after a crash. */
  name: string;
  sshPublicKey: string;
  container?: ContainerLaunch;
  /** Network volumes to attach at create (only where `volumes` is set). */
  volumes?: VolumeAttachment[];
}

export interface Compute {
  /** Container clouds: the instance is the run's container (CreateRequest.container is required). */
  readonly containers?: boolean;
  /** The catalog now: one offer per instance type and region, availability as the provider says. */
  offers(): Promise<Offer[]>;
  /** Asks for an instance; returns its id. Throws CloudNoCapacityError when the provider has none. */
  create(req: CreateRequest): Promise<string>;
  /** The instance, or null when the provider no longer knows it. */
  get(id: string): Promise<CloudInstance | null>;
  /** Every instance of the account (the caller picks ours by name). */
  list(): Promise<CloudInstance[]>;
  /** Ends billing for good; an instance already gone counts as done. */
  terminate(id: string): Promise<void>;
  /** Checks the credentials with one cheap call (throws CloudError `credentials`). */
  check(): Promise<void>;
  /** The provider's network volumes, where it has them. */
  readonly volumes?: VolumeSupport;
}
