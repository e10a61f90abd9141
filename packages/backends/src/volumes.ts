// Network volumes, one small interface for every backend that has them (RunPod network volumes, Lambda
// filesystems; a cluster's claims could be next): make, look up and delete one at the provider, and
// say how an instance gets it. Attaching happens when the instance is made (CreateRequest.volumes):
// neither provider attaches to a running instance. Which run may use which volume is the daemon's.

/** A volume as the provider shows it. */
export interface NetworkVolume {
  /** The provider's id (what `volume_id` names). */
  id: string;
  /** The provider's name of it (the daemon's prefix + the volume's name, for ones it made). */
  name: string;
  /** Region or data center: an instance elsewhere cannot have it. */
  region: string;
  sizeGb: number;
  /** The provider's word for its state ("available", "in use"), for messages. */
  providerState: string;
}

/** One volume at one path of the run's container. */
export interface VolumeAttachment {
  volume: NetworkVolume;
  path: string;
}

export interface VolumeSupport {
  /**
   * How a run sees it: `provider`: the provider mounts it into the instance's container at the run's
   * path (a container cloud); `host`: it appears on the instance at hostPath() and the agent binds it
   * into the job's container, as an instance volume.
   */
  readonly mount: 'provider' | 'host';
  /** How many one instance can take (RunPod: one network volume per pod). */
  readonly maxPerInstance?: number;
  /** Makes a volume; the name is the provider's (unique in the account). */
  create(req: { name: string; region: string; sizeGb: number }): Promise<NetworkVolume>;
  /** The volume with this provider id, or null when the provider does not know it. */
  get(id: string): Promise<NetworkVolume | null>;
  /** Deletes it for good; one already gone counts as done. */
  delete(id: string): Promise<void>;
  /** mount `host`: where the volume is on an instance that has it. */
  hostPath?(volume: NetworkVolume): string;
}
