// The Pod a run gets: the run's own image with the container bootstrap as its command (sshd for the
// daemon's key on CONTAINER_SSH_PORT, as on RunPod and Vast.ai: it works for any image with /bin/sh
// and an sshd or a package manager, and the agent then comes over SSH, the one deploy path every
// backend shares; an init container copying the agent in would need a volume and an agent image the
// cluster can pull, and would still need a way in). Requests are what the run asked for (its
// minimums), not the whole node the offer showed: the cluster is shared. Memory's limit is its
// request, so going over it is the kernel's OOM kill the pod then reports (OOMKilled), not a node
// under pressure evicting others; GPUs are limits as the device plugins require. `shm_size` is a
// memory-backed emptyDir at /dev/shm (a container's own is 64 MB). The node is the offer's, by its
// hostname label: the cluster's scheduler still admits it (quotas, taints, room) or says why not.
import type { Offer } from '@dstack/core/gen/daemon';
import type { ResourcesSpec } from '@dstack/core/resources/types';
import { GPU_RESOURCES } from './offers';
import { cpuQuantity, memoryQuantity } from './quantity';

const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
const MANAGED_BY = 'dstack-ts';
/** The daemon's home id (`$DSTACK_HOME/daemon-id`): two users in one namespace never touch each other's pods. */
const HOME_LABEL = 'dstack-ts/home';
const RUN_LABEL = 'dstack-ts/run';
export const CONTAINER_NAME = 'run';

export interface PodSpecInput {
  name: string;
  namespace: string;
  homeId: string;
  runName: string;
  image: string;
  command: string[];
  sshPort: number;
  offer: Offer;
  /** The node's `kubernetes.io/hostname` label. */
  hostname: string;
  resources?: ResourcesSpec;
  /** Network volumes: PersistentVolumeClaims of the namespace, each at its path. */
  claims?: { claim: string; path: string }[];
}

/** The labels of what this home makes (pods, claims). */
export function ownedLabels(homeId: string, runName?: string): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY, [HOME_LABEL]: labelValue(homeId), ...(runName ? { [RUN_LABEL]: labelValue(runName) } : {}) };
}

/** The label selector of this home's pods. */
export function ownedSelector(homeId: string): string {
  return `${MANAGED_BY_LABEL}=${MANAGED_BY},${HOME_LABEL}=${homeId}`;
}

/** A label value: at most 63 of [A-Za-z0-9-_.], alphanumeric at both ends. */
function labelValue(s: string): string {
  return (
    s
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .slice(0, 63)
      .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '') || 'x'
  );
}

export function podManifest(i: PodSpecInput) {
  const r = i.resources;
  const offered = i.offer.resources;
  const cpus = r?.cpu.count.min ?? offered?.cpus ?? 1;
  const memoryGb = r?.memory.min ?? offered?.memoryGb ?? 1;
  const gpu = offered?.gpus[0];
  const gpuCount = gpu ? (r ? (r.gpu.count.min ?? 0) : gpu.count) : 0;
  const requests: Record<string, string> = { cpu: cpuQuantity(cpus), memory: memoryQuantity(memoryGb) };
  const limits: Record<string, string> = { memory: requests.memory };
  if (r?.cpu.count.max != null) limits.cpu = cpuQuantity(r.cpu.count.max);
  if (gpu && gpuCount > 0) {
    const res = GPU_RESOURCES[gpu.vendor as keyof typeof GPU_RESOURCES] ?? GPU_RESOURCES.nvidia;
    requests[res] = String(gpuCount);
    limits[res] = String(gpuCount);
  }
  const shm = r?.shm_size ?? null;
  const mounts = [
    ...(shm ? [{ name: 'dshm', mountPath: '/dev/shm' }] : []),
    ...(i.claims ?? []).map((c, n) => ({ name: `volume-${n}`, mountPath: c.path })),
  ];
  const volumes = [
    ...(shm ? [{ name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: memoryQuantity(shm) } }] : []),
    ...(i.claims ?? []).map((c, n) => ({ name: `volume-${n}`, persistentVolumeClaim: { claimName: c.claim } })),
  ];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: i.name,
      namespace: i.namespace,
      labels: ownedLabels(i.homeId, i.runName),
    },
    spec: {
      // A pod whose bootstrap ended is not started again: the daemon reads why and ends the run.
      restartPolicy: 'Never',
      nodeSelector: { 'kubernetes.io/hostname': i.hostname },
      terminationGracePeriodSeconds: 10,
      containers: [
        {
          name: CONTAINER_NAME,
          image: i.image,
          command: i.command,
          ports: [{ name: 'ssh', containerPort: i.sshPort, protocol: 'TCP' }],
          resources: { requests, limits },
          // The bootstrap's last line when it gives up (an image with no sshd): shown as the pod's reason.
          terminationMessagePath: '/dev/termination-log',
          ...(mounts.length ? { volumeMounts: mounts } : {}),
        },
      ],
      ...(volumes.length ? { volumes } : {}),
    },
  };
}
