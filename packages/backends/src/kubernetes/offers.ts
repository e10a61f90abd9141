// A cluster's offers: one per schedulable node, its `status.allocatable` minus what the pods placed
// on it request (as `kubectl describe node` adds them up: pods not Succeeded or Failed), so an offer
// says what the cluster's own scheduler can still place there now. GPUs are the extended resources
// `nvidia.com/gpu` and `amd.com/gpu` (the vendors' device plugins); their model and memory come from
// node labels: NVIDIA GPU feature discovery (`nvidia.com/gpu.product`, `nvidia.com/gpu.memory` in
// MiB) and AMD's node labeller (`amd.com/gpu.product-name`, `amd.com/gpu.vram`). A node without
// them still offers its GPUs, named by vendor only.
import type { Offer } from '@dstack/core/gen/daemon';
import { dstackGpuName } from '../gpu-short-names';
import { parseQuantity } from './quantity';

/** The parts of a Node (core/v1) read here. */
export interface NodeLike {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: { unschedulable?: boolean };
  status?: {
    allocatable?: Record<string, string>;
    capacity?: Record<string, string>;
    conditions?: { type: string; status: string }[];
  };
}

/** The parts of a Pod (core/v1) read here. */
export interface PodLike {
  spec?: { containers?: { resources?: { requests?: Record<string, string> } }[] };
  status?: { phase?: string };
}

export const GPU_RESOURCES = { nvidia: 'nvidia.com/gpu', amd: 'amd.com/gpu' } as const;

const GB = 1024 ** 3;

/** What the pods request, by resource name, added up (pods that ended hold nothing). */
export function requested(pods: PodLike[]): Map<string, number> {
  const sum = new Map<string, number>();
  for (const p of pods) {
    if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
    for (const c of p.spec?.containers ?? []) {
      for (const [k, v] of Object.entries(c.resources?.requests ?? {})) sum.set(k, (sum.get(k) ?? 0) + parseQuantity(v));
    }
  }
  return sum;
}

function gpuOf(labels: Record<string, string>, vendor: 'nvidia' | 'amd'): { name: string; memoryGb: number } {
  if (vendor === 'nvidia') {
    // GFD writes the product with dashes for spaces: "NVIDIA-A100-SXM4-80GB".
    const product = labels['nvidia.com/gpu.product'];
    const mib = Number(labels['nvidia.com/gpu.memory'] ?? 0);
    return { name: product ? dstackGpuName('nvidia', product.replace(/-/g, ' ')) : '', memoryGb: mib > 0 ? mib / 1024 : 0 };
  }
  const product = labels['amd.com/gpu.product-name'];
  const vram = parseQuantity(labels['amd.com/gpu.vram']?.replace(/B$/, ''));
  return {
    name: product ? dstackGpuName('amd', product.replace(/_/g, ' ')) : '',
    memoryGb: vram > 0 ? Math.round(vram / GB) : 0,
  };
}

export function nodeReady(node: NodeLike): boolean {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  return ready?.status === 'True' && !node.spec?.unschedulable;
}

/** Free and total of one node, per resource: for offers and `dstack backend list`. */
export interface NodeCapacity {
  node: string;
  cpus: { free: number; total: number };
  memoryGb: { free: number; total: number };
  gpus: { vendor: string; name: string; memoryGb: number; free: number; total: number } | null;
  diskGb: number;
  /** x86 or arm, from the node's `kubernetes.io/arch` label. */
  arch: string;
  ready: boolean;
}

export function nodeCapacity(node: NodeLike, pods: PodLike[]): NodeCapacity {
  const alloc = node.status?.allocatable ?? {};
  const used = requested(pods);
  const free = (r: string) => Math.max(0, parseQuantity(alloc[r]) - (used.get(r) ?? 0));
  let gpus: NodeCapacity['gpus'] = null;
  for (const vendor of ['nvidia', 'amd'] as const) {
    const total = parseQuantity(alloc[GPU_RESOURCES[vendor]]);
    if (!(total > 0)) continue;
    const g = gpuOf(node.metadata?.labels ?? {}, vendor);
    gpus = { vendor, name: g.name || vendor.toUpperCase(), memoryGb: g.memoryGb, free: Math.floor(free(GPU_RESOURCES[vendor])), total };
    break;
  }
  return {
    node: node.metadata?.name ?? '',
    cpus: { free: Math.floor(free('cpu') * 1000) / 1000, total: parseQuantity(alloc.cpu) },
    memoryGb: { free: Math.floor((free('memory') / GB) * 10) / 10, total: Math.floor((parseQuantity(alloc.memory) / GB) * 10) / 10 },
    gpus,
    diskGb: Math.floor(free('ephemeral-storage') / GB),
    arch: node.metadata?.labels?.['kubernetes.io/arch'] === 'arm64' ? 'arm' : 'x86',
    ready: nodeReady(node),
  };
}

/** The node's offer: what is free on it now, at `price` (0 unless configured). */
export function nodeOffer(c: NodeCapacity, region: string, price: number): Offer {
  return {
    backend: 'kubernetes',
    region,
    instanceType: c.node,
    resources: {
      cpus: Math.floor(c.cpus.free),
      cpuArch: c.arch,
      memoryGb: c.memoryGb.free,
      diskGb: c.diskGb,
      gpus: c.gpus && c.gpus.free > 0 ? [{ vendor: c.gpus.vendor, name: c.gpus.name, memoryGb: c.gpus.memoryGb, count: c.gpus.free }] : [],
      spot: false,
    },
    spot: false,
    price,
    availability: c.ready ? 'available' : 'not_available',
    instanceName: '',
    fleet: '',
  };
}
