// The embedded default backend: this machine. Its one offer is the machine itself, with the
// resources the agent reports (GetHostInfo), price $0, region `local`. Runs share it; nothing is
// created or deleted. The agent's data dir is under the daemon's home, so two homes (two users, or
// parallel tests) never share an agent.
import type { HostInfo } from '@dstack/core/gen/agent';
import type { GpuResources, Offer, Resources } from '@dstack/core/gen/daemon';
import { join } from 'node:path';
import type { Backend, CreateInstanceRequest, InstanceRecord, OfferList } from '../backend';
import { dstackGpuName } from '../gpu-short-names';
import type { HostConnection } from '../host-connection';
import { agentEnvironment } from './agent-env';
import { LocalHost } from './local-host';

export const LOCAL_INSTANCE_ID = 'local';

export interface LocalBackendOptions {
  /** `$DSTACK_HOME/local`. */
  dir: string;
  /** The agent's host info (the daemon deploys the agent on this machine to ask it). */
  hostInfo: () => Promise<HostInfo>;
  /** The daemon's environment; the agent gets only agentEnvironment() of it. */
  env?: NodeJS.ProcessEnv;
}

const GIB = 1024 ** 3;

export function resourcesFromHostInfo(info: HostInfo): Resources {
  const gpus = new Map<string, GpuResources>();
  for (const g of info.gpus) {
    const memoryGb = Math.round((g.memoryMib / 1024) * 10) / 10;
    const name = dstackGpuName(g.vendor, g.name);
    const key = `${g.vendor}/${name}/${memoryGb}`;
    const cur = gpus.get(key);
    if (cur) cur.count++;
    else gpus.set(key, { vendor: g.vendor, name, memoryGb, count: 1 });
  }
  return {
    cpus: info.cpus,
    cpuArch: /^(aarch64|arm64)/.test(info.arch) ? 'arm' : 'x86',
    memoryGb: Math.round((info.memoryBytes / GIB) * 10) / 10,
    diskGb: Math.round((info.diskTotalBytes / GIB) * 10) / 10,
    gpus: [...gpus.values()],
    spot: false,
  };
}

export class LocalBackend implements Backend {
  readonly type = 'local';

  constructor(private readonly opts: LocalBackendOptions) {}

  agentPlacement() {
    const dataDir = join(this.opts.dir, 'agent');
    return {
      dataDir,
      binPath: join(dataDir, 'bin', 'dstack-agent'),
      socketPath: join(dataDir, 'agent.sock'),
      logFile: join(dataDir, 'agent.log'),
    };
  }

  async offers(): Promise<OfferList> {
    let info: HostInfo;
    try {
      info = await this.opts.hostInfo();
    } catch (err) {
      return { offers: [], reasons: [`local: the agent on this machine did not answer: ${(err as Error).message}`] };
    }
    return { offers: [this.offerFor(info)], reasons: [] };
  }

  offerFor(info: HostInfo): Offer {
    return {
      backend: 'local',
      region: 'local',
      instanceType: 'local',
      resources: resourcesFromHostInfo(info),
      spot: false,
      price: 0,
      availability: 'available',
      instanceName: LOCAL_INSTANCE_ID,
      fleet: '',
    };
  }

  async createInstance(req: CreateInstanceRequest): Promise<InstanceRecord> {
    return {
      instanceId: LOCAL_INSTANCE_ID,
      name: LOCAL_INSTANCE_ID,
      backend: 'local',
      region: 'local',
      price: 0,
      offer: req.offer,
      agent: this.agentPlacement(),
      reusable: true,
    };
  }

  async connect(_instance: InstanceRecord): Promise<HostConnection> {
    // What runs here (the agent above all) starts from a short list, not the daemon's environment.
    return new LocalHost(agentEnvironment(this.opts.env ?? process.env));
  }

  async release(_instance: InstanceRecord): Promise<void> {}

  async terminate(_instance: InstanceRecord): Promise<void> {}
}
