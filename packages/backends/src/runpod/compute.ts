// RunPod as a Compute: a container cloud. The instance is a pod running the run's own image, with the
// daemon's bootstrap (sshd on the container's ssh port) as its command, reached as root at the public
// IP and port RunPod maps to that port. On-demand only: RunPod's interruptible pods are not offered
// (every offer spot=false). Offers: each GPU type at 1, 2, 4 and 8 GPUs (up to the type's
// maxGpuCount), priced and stocked as `lowestPrice` says now; RunPod picks the data center, so the
// offers carry no region.
import type { Offer } from '@dstack/core/gen/daemon';
import { dstackGpuName } from '../gpu-short-names';
import { isCloudError } from '../cloud/cloud-error';
import type { CloudInstance, Compute, CreateRequest } from '../cloud/compute';
import { CONTAINER_SSH_PORT } from '../cloud/container-bootstrap';
import type { NetworkVolume, VolumeSupport } from '../volumes';
import {
  RUNPOD_GPU_COUNTS,
  type RunpodApi,
  type RunpodCloudType,
  type RunpodGpuType,
  type RunpodNetworkVolume,
  type RunpodPod,
} from './api';

/**
 * The container disk an offer shows: RunPod sizes it as asked at deploy (containerDiskInGb), with no
 * limit in gpuTypes; this is the most an offer promises, for the planner's disk check.
 */
export const RUNPOD_MAX_DISK_GB = 1000;

/** "NVIDIA GeForce RTX 4090" or "RTX 4090" → dstack's name ("RTX4090"); AMD's "MI300X" as it is. */
export function runpodGpuName(t: Pick<RunpodGpuType, 'id' | 'displayName' | 'manufacturer'>): { vendor: string; name: string } {
  const vendor = /amd/i.test(t.manufacturer ?? '') || /^AMD\b|\bMI\d{3}/i.test(t.id) ? 'amd' : 'nvidia';
  return { vendor, name: dstackGpuName(vendor, t.displayName || t.id) };
}

export function runpodOffers(types: RunpodGpuType[], cloudType: RunpodCloudType = 'ALL'): Offer[] {
  const offers: Offer[] = [];
  for (const t of types) {
    // RunPod lists an "unknown" type and types it no longer rents; neither has a price.
    if (!t.id || t.id === 'unknown' || !(t.maxGpuCount > 0)) continue;
    if (cloudType === 'SECURE' && !t.secureCloud) continue;
    if (cloudType === 'COMMUNITY' && !t.communityCloud) continue;
    const gpu = runpodGpuName(t);
    const listPrice =
      cloudType === 'COMMUNITY' ? t.communityPrice : cloudType === 'SECURE' ? t.securePrice : (t.securePrice ?? t.communityPrice);
    for (const count of RUNPOD_GPU_COUNTS) {
      if (count > t.maxGpuCount) continue;
      const lp = t[`lp${count}`];
      // Per GPU: the lowest on-demand price now, else the list price of the cloud asked for.
      const perGpu = lp?.uninterruptablePrice || listPrice || 0;
      if (!(perGpu > 0)) continue;
      offers.push({
        backend: 'runpod',
        region: '',
        instanceType: t.id,
        resources: {
          cpus: lp?.minVcpu ?? 0,
          cpuArch: 'x86',
          memoryGb: lp?.minMemory ?? 0,
          diskGb: RUNPOD_MAX_DISK_GB,
          gpus: [{ vendor: gpu.vendor, name: gpu.name, memoryGb: t.memoryInGb, count }],
          spot: false,
        },
        spot: false,
        price: Math.round(perGpu * count * 10_000) / 10_000,
        availability: lp?.stockStatus ? 'available' : 'not_available',
        instanceName: '',
        fleet: '',
      });
    }
  }
  return offers;
}

/**
 * The container's command as RunPod's dockerArgs: JSON `{"cmd": [...], "entrypoint": [...]}`, which
 * replaces the image's entrypoint and command. dstack does the same (runpod/compute.py,
 * `_get_docker_args`: `{"cmd": [command], "entrypoint": ["/bin/sh", "-c"]}`); it inlines the string
 * in the query and so escapes it twice, here it goes in a variable as it is.
 */
export function runpodDockerArgs(command: string[]): string {
  if (command.length === 0) throw new Error('runpod: the container needs a command');
  const split = command[1] === '-c' ? 2 : 1;
  return JSON.stringify({ cmd: command.slice(split), entrypoint: command.slice(0, split) });
}

/** Where sshd answers: the public TCP mapping of the ssh port, or the pod's only public TCP mapping. */
function sshMapping(pod: RunpodPod, sshPort?: number) {
  const tcp = (pod.runtime?.ports ?? []).filter((p) => p.type === 'tcp' && p.isIpPublic && p.ip && p.publicPort > 0);
  const wanted = tcp.find((p) => p.privatePort === (sshPort ?? CONTAINER_SSH_PORT));
  if (wanted || sshPort !== undefined) return wanted;
  return tcp.length === 1 ? tcp[0] : undefined;
}

export function runpodInstance(pod: RunpodPod, sshPort?: number): CloudInstance {
  const ssh = sshMapping(pod, sshPort);
  let state: CloudInstance['state'];
  switch (pod.desiredStatus) {
    case 'RUNNING':
      // Running as RunPod says it once the container runs (runtime) and its ssh port is mapped.
      state = ssh ? 'running' : 'pending';
      break;
    case 'EXITED':
    case 'PAUSED':
      state = 'stopped';
      break;
    case 'TERMINATED':
      state = 'terminated';
      break;
    case 'DEAD':
      state = 'failed';
      break;
    default:
      state = 'pending';
  }
  return {
    id: pod.id,
    name: pod.name ?? '',
    state,
    providerState: pod.desiredStatus === 'RUNNING' && !pod.runtime ? 'RUNNING (starting)' : pod.desiredStatus,
    ip: ssh?.ip ?? '',
    sshPort: ssh?.publicPort ?? 0,
    sshUser: 'root',
    region: '',
    ...(pod.lastStatusChange ? { statusMessage: pod.lastStatusChange } : {}),
  };
}

const volumeOf = (v: RunpodNetworkVolume): NetworkVolume => ({
  id: v.id,
  name: v.name,
  region: v.dataCenterId,
  sizeGb: v.size,
  providerState: 'available',
});

/**
 * RunPod's network volumes: one per pod, in the pod's data center, mounted by RunPod into the pod's
 * container at the deploy's volumeMountPath (https://docs.runpod.io/pods/storage/create-network-volumes).
 */
class RunpodVolumes implements VolumeSupport {
  readonly mount = 'provider' as const;
  readonly maxPerInstance = 1;

  constructor(private readonly api: RunpodApi) {}

  async create(req: { name: string; region: string; sizeGb: number }): Promise<NetworkVolume> {
    return volumeOf(await this.api.createNetworkVolume({ name: req.name, size: Math.ceil(req.sizeGb), dataCenterId: req.region }));
  }

  async get(id: string): Promise<NetworkVolume | null> {
    const v = (await this.api.networkVolumes()).find((x) => x.id === id);
    return v ? volumeOf(v) : null;
  }

  async delete(id: string): Promise<void> {
    try {
      await this.api.deleteNetworkVolume(id);
    } catch (err) {
      if (!isCloudError(err, 'not-found')) throw err;
    }
  }
}

export class RunpodCompute implements Compute {
  readonly containers = true;
  readonly volumes: VolumeSupport;
  /** The ssh port each pod made here was asked to map (get() picks that mapping). */
  private readonly sshPorts = new Map<string, number>();

  constructor(
    private readonly api: RunpodApi,
    /**
     * regions: the entry's `regions:` (RunPod data center ids, as dstack's). The catalog does not say
     * which data center has a type now, so each offer is listed once per region asked for, and the
     * deploy asks that data center (a no-capacity answer moves to the next offer).
     */
    private readonly opts: { cloudType?: RunpodCloudType; regions?: string[] | null } = {},
  ) {
    this.volumes = new RunpodVolumes(api);
  }

  private get cloudType(): RunpodCloudType {
    return this.opts.cloudType ?? 'ALL';
  }

  async offers(): Promise<Offer[]> {
    const offers = runpodOffers(await this.api.gpuTypes(this.cloudType), this.cloudType);
    const regions = this.opts.regions;
    return regions?.length ? regions.flatMap((region) => offers.map((o) => ({ ...o, region }))) : offers;
  }

  async create(req: CreateRequest): Promise<string> {
    const c = req.container;
    if (!c) throw new Error('runpod: a pod needs the run’s container (image and command)');
    const r = req.offer.resources;
    const [attached, ...more] = req.volumes ?? [];
    if (more.length) throw new Error('runpod: a pod takes one network volume');
    // The volume's data center is where the pod must go (the planner pinned the offer to it).
    const dataCenterId = attached?.volume.region || req.offer.region;
    const pod = await this.api.deploy({
      cloudType: this.cloudType,
      gpuTypeId: req.offer.instanceType,
      gpuCount: r?.gpus[0]?.count || 1,
      name: req.name,
      imageName: c.image,
      dockerArgs: runpodDockerArgs(c.command),
      ports: `${c.sshPort}/tcp`,
      volumeInGb: 0,
      containerDiskInGb: Math.max(1, Math.ceil(c.diskGb)),
      env: Object.entries(c.env).map(([key, value]) => ({ key, value })),
      supportPublicIp: true,
      ...(dataCenterId ? { dataCenterId } : {}),
      ...(attached ? { networkVolumeId: attached.volume.id, volumeMountPath: attached.path } : {}),
      // What the offer promised, as dstack asks (min_vcpu_count, min_memory_in_gb).
      ...(r?.cpus ? { minVcpuCount: r.cpus } : {}),
      ...(r?.memoryGb ? { minMemoryInGb: Math.floor(r.memoryGb) } : {}),
    });
    this.sshPorts.set(pod.id, c.sshPort);
    return pod.id;
  }

  async get(id: string): Promise<CloudInstance | null> {
    try {
      const pod = await this.api.pod(id);
      return pod ? runpodInstance(pod, this.sshPorts.get(id)) : null;
    } catch (err) {
      if (isCloudError(err, 'not-found')) return null;
      throw err;
    }
  }

  async list(): Promise<CloudInstance[]> {
    return (await this.api.pods()).map((p) => runpodInstance(p, this.sshPorts.get(p.id)));
  }

  async terminate(id: string): Promise<void> {
    try {
      await this.api.terminate(id);
    } catch (err) {
      if (!isCloudError(err, 'not-found')) throw err;
    }
    this.sshPorts.delete(id);
  }

  async check(): Promise<void> {
    await this.api.myselfId();
  }
}
