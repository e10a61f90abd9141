// A Kubernetes cluster as a Backend: CloudBackend with KubernetesCompute, so naming pods as this
// daemon's, adopting one after a crash, pinning the pod sshd's host key, deploying the agent over SSH
// and sweeping orphans are the container clouds' own code. What differs is the way in (a loopback
// port the daemon holds, re-opened on the recorded port after a restart), the run's own resources
// and status reports reaching the compute, and a pod deleted by someone else counting as an
// interruption (a node drain, an admin's `kubectl delete`), as an eviction does.
import type { CreateInstanceRequest, InstanceEnd, InstanceRecord } from '../backend';
import { CloudBackend, cloudInstanceData, type CloudBackendOptions } from '../cloud/cloud-backend';
import type { HostConnection } from '../host-connection';
import type { KubernetesCompute } from './compute';

export class KubernetesBackend extends CloudBackend {
  constructor(
    opts: Omit<CloudBackendOptions, 'compute' | 'type' | 'regions'>,
    private readonly k8s: KubernetesCompute,
  ) {
    super({ ...opts, type: 'kubernetes', compute: k8s, regions: null });
  }

  override createInstance(req: CreateInstanceRequest): Promise<InstanceRecord> {
    this.k8s.expect(`${this.namePrefix}${req.name}`, { resources: req.resources, report: req.report });
    return super.createInstance(req);
  }

  override async connect(instance: InstanceRecord): Promise<HostConnection> {
    await this.k8s.reopen(instance.instanceId, cloudInstanceData(instance).port);
    return super.connect(instance);
  }

  override async instanceEnded(instance: InstanceRecord): Promise<InstanceEnd | undefined> {
    const ended = await super.instanceEnded(instance);
    if (ended && !(await this.k8s.get(instance.instanceId))) {
      return { interrupted: true, message: `kubernetes pod ${instance.name} was deleted at the cluster (a node drain, kubectl delete)` };
    }
    return ended;
  }

  /**
   * What each context's nodes have free now, of their total, one line per node (`dstack backend
   * list` prints it under its table, as `dstack fleet` lists a fleet's hosts).
   */
  async describe(): Promise<string> {
    const lines: string[] = [];
    for (const c of await this.k8s.capacities()) {
      lines.push(`kubernetes ${c.context}: ${c.nodes.length} node(s), free/total:`);
      for (const n of c.nodes) {
        const gpu = n.gpus
          ? `, ${n.gpus.name}${n.gpus.memoryGb ? `:${Math.round(n.gpus.memoryGb)}GB` : ''} ${n.gpus.free}/${n.gpus.total}`
          : '';
        lines.push(
          `  ${n.node}: ${n.cpus.free}/${n.cpus.total} CPU, ${n.memoryGb.free}/${n.memoryGb.total}GB${gpu}${n.ready ? '' : ' (not schedulable)'}`,
        );
      }
    }
    return lines.join('\n');
  }
}
