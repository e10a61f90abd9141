// Lambda Cloud as a Compute: VMs (Ubuntu with Docker and the NVIDIA runtime) reached as `ubuntu`
// on port 22; the daemon's key registered once under a name derived from it; on-demand only (Lambda
// has no spot). Offers: each instance type in each region that has capacity now.
import { createHash } from 'node:crypto';
import type { Offer } from '@dstack/core/gen/daemon';
import { dstackGpuName } from '../gpu-short-names';
import { isCloudError } from '../cloud/cloud-error';
import type { CloudInstance, Compute, CreateRequest } from '../cloud/compute';
import type { NetworkVolume, VolumeSupport } from '../volumes';
import type { LambdaApi, LambdaFileSystem, LambdaInstance } from './api';

const STATES: Record<string, CloudInstance['state']> = {
  booting: 'pending',
  active: 'running',
  unhealthy: 'running',
  terminating: 'terminated',
  terminated: 'terminated',
  preempted: 'terminated',
};

/** "A10 (24 GB PCIe)" → dstack's name and GB; "8x H100 (80 GB SXM5)" too. */
export function lambdaGpu(description: string): { name: string; memoryGb: number } | undefined {
  const m = /^(?:\d+x\s+)?([^(]+?)\s*\((\d+(?:\.\d+)?)\s*GB\b/i.exec(description.trim());
  if (!m) return undefined;
  return { name: dstackGpuName('nvidia', m[1]), memoryGb: Number(m[2]) };
}

export function lambdaOffers(types: Awaited<ReturnType<LambdaApi['instanceTypes']>>): Offer[] {
  const offers: Offer[] = [];
  for (const { instance_type: t, regions_with_capacity_available: regions } of Object.values(types)) {
    const gpu = t.specs.gpus > 0 && t.gpu_description ? lambdaGpu(t.gpu_description) : undefined;
    for (const r of regions) {
      offers.push({
        backend: 'lambda',
        region: r.name,
        instanceType: t.name,
        resources: {
          cpus: t.specs.vcpus,
          cpuArch: /GH200/i.test(t.gpu_description ?? '') ? 'arm' : 'x86',
          memoryGb: t.specs.memory_gib,
          diskGb: t.specs.storage_gib,
          gpus: gpu ? [{ vendor: 'nvidia', name: gpu.name, memoryGb: gpu.memoryGb, count: t.specs.gpus }] : [],
          spot: false,
        },
        spot: false,
        price: t.price_cents_per_hour / 100,
        availability: 'available',
        instanceName: '',
        fleet: '',
      });
    }
  }
  return offers;
}

function instance(i: LambdaInstance, sshUser: string): CloudInstance {
  return {
    id: i.id,
    name: i.name ?? '',
    state: STATES[i.status] ?? 'pending',
    providerState: i.status,
    ip: i.ip ?? '',
    sshPort: 22,
    sshUser,
    region: i.region?.name ?? '',
    interrupted: i.status === 'preempted',
  };
}

/** Where Lambda mounts a filesystem on an instance launched with it. */
export const lambdaMountPoint = (name: string) => `/lambda/nfs/${name}`;

const volumeOf = (f: LambdaFileSystem): NetworkVolume => ({
  id: f.id,
  name: f.name,
  region: f.region?.name ?? '',
  sizeGb: 0,
  providerState: f.is_in_use ? 'in use' : 'available',
});

/**
 * Lambda's filesystems: regional NFS, one per instance, named at launch (file_system_names) and
 * mounted on the VM at /lambda/nfs/NAME; the agent binds that folder into the job's container. A
 * filesystem has no size: it grows as it is used.
 */
class LambdaVolumes implements VolumeSupport {
  readonly mount = 'host' as const;
  readonly maxPerInstance = 1;

  constructor(private readonly api: LambdaApi) {}

  async create(req: { name: string; region: string }): Promise<NetworkVolume> {
    return volumeOf(await this.api.createFileSystem(req.name, req.region));
  }

  async get(id: string): Promise<NetworkVolume | null> {
    const f = (await this.api.fileSystems()).find((x) => x.id === id);
    return f ? volumeOf(f) : null;
  }

  async delete(id: string): Promise<void> {
    try {
      await this.api.deleteFileSystem(id);
    } catch (err) {
      if (!isCloudError(err, 'not-found')) throw err;
    }
  }

  hostPath(volume: NetworkVolume): string {
    return lambdaMountPoint(volume.name);
  }
}

export class LambdaCompute implements Compute {
  readonly volumes: VolumeSupport;

  constructor(
    private readonly api: LambdaApi,
    /** The user Lambda's image logs in (tests: the double's hosts take root). */
    private readonly sshUser = 'ubuntu',
  ) {
    this.volumes = new LambdaVolumes(api);
  }

  async offers(): Promise<Offer[]> {
    return lambdaOffers(await this.api.instanceTypes());
  }

  /** The daemon's public key in the account, added under a name made from the key when missing. */
  private async keyName(publicKey: string): Promise<string> {
    const name = `dstack-${createHash('sha256').update(publicKey.trim()).digest('hex').slice(0, 16)}`;
    const keys = await this.api.sshKeys();
    if (!keys.some((k) => k.name === name)) await this.api.addSshKey(name, publicKey.trim());
    return name;
  }

  async create(req: CreateRequest): Promise<string> {
    const ids = await this.api.launch({
      region_name: req.offer.region,
      instance_type_name: req.offer.instanceType,
      ssh_key_names: [await this.keyName(req.sshPublicKey)],
      file_system_names: (req.volumes ?? []).map((v) => v.volume.name),
      quantity: 1,
      name: req.name,
    });
    if (!ids[0]) throw new Error('lambda: the launch answered no instance id');
    return ids[0];
  }

  async get(id: string): Promise<CloudInstance | null> {
    try {
      return instance(await this.api.instance(id), this.sshUser);
    } catch (err) {
      if (isCloudError(err, 'not-found')) return null;
      throw err;
    }
  }

  async list(): Promise<CloudInstance[]> {
    return (await this.api.instances()).map((i) => instance(i, this.sshUser));
  }

  async terminate(id: string): Promise<void> {
    try {
      await this.api.terminate([id]);
    } catch (err) {
      if (!isCloudError(err, 'not-found')) throw err;
    }
  }

  async check(): Promise<void> {
    await this.api.instanceTypes();
  }
}
