// A Kubernetes cluster (one or more kubeconfig contexts) as a Compute: offers from its nodes (see
// offers.ts), an instance = a Pod running the run's image with the container bootstrap (pod-spec.ts),
// reached through the API server's port-forward on a loopback port (port-forward.ts). The cluster's
// own words become the run's: a pod the scheduler cannot place is `pending (...)` with its message,
// then no-capacity after `pending_timeout`; an image the kubelet cannot pull fails the run at
// ImagePullBackOff; OOMKilled and Evicted say so. API calls go through @kubernetes/client-node
// (loaded on first use: it is big, and most daemons have no cluster).
import type { CoreV1Api, KubeConfig, V1Pod } from '@kubernetes/client-node';
import type { Offer } from '@dstack/core/gen/daemon';
import type { ResourcesSpec } from '@dstack/core/resources/types';
import { ContainerCreateError } from '../backend';
import { cloudError, CloudNoCapacityError } from '../cloud/cloud-error';
import type { CloudInstance, Compute, CreateRequest } from '../cloud/compute';
import type { NetworkVolume, VolumeSupport } from '../volumes';
import { nodeCapacity, nodeOffer, type NodeCapacity } from './offers';
import { CONTAINER_NAME, ownedLabels, ownedSelector, podManifest } from './pod-spec';
import { parseQuantity } from './quantity';
import { openForward, type Forward } from './port-forward';

export interface KubernetesComputeOptions {
  /** The kubeconfig: a file, or its text (dstack's `kubeconfig: {filename, data}`). */
  kubeconfig: { filename: string | null; data: string | null };
  /** dstack's `contexts`: each a cluster, its name the offers' region; null: the current context. */
  contexts: string[] | null;
  /** Where pods go; null: the context's own namespace, else `default`. */
  namespace: string | null;
  /** This daemon's home id: its pods' label. */
  homeId: string;
  /** How long a pod may stay unschedulable before the run gets no-capacity. */
  pendingTimeoutMs: number;
  /** Dollars per hour of every offer (a cluster costs what its owner says; default 0). */
  price: number;
  log?: (message: string) => void;
}

interface Cluster {
  /** The context's name: the offers' region. */
  name: string;
  kc: KubeConfig;
  api: CoreV1Api;
  namespace: string;
}

const SEP = '@';

/** An instance id: `<pod>@<context>` (a pod name has no `@`). */
function splitId(id: string): { pod: string; context: string } {
  const at = id.indexOf(SEP);
  return at < 0 ? { pod: id, context: '' } : { pod: id.slice(0, at), context: id.slice(at + 1) };
}

/** The API's answer to a failed call, in CloudError's kinds. */
function apiError(err: unknown, what: string): Error {
  const e = err as { code?: number; body?: unknown; message?: string };
  const status = typeof e.code === 'number' ? e.code : 0;
  let message = e.message ?? String(err);
  const body = typeof e.body === 'string' ? safeJson(e.body) : e.body;
  if (body && typeof body === 'object' && 'message' in body) message = String((body as { message: unknown }).message);
  const text = `${what}: ${status ? `HTTP ${status}: ` : ''}${message}`;
  if (status === 401) return cloudError('kubernetes', 'credentials', text, status);
  if (status === 403) return cloudError('kubernetes', /exceeded quota/i.test(message) ? 'quota' : 'credentials', text, status);
  if (status === 404) return cloudError('kubernetes', 'not-found', text, status);
  if (status === 400 || status === 409 || status === 422) return cloudError('kubernetes', 'bad-request', text, status);
  return cloudError('kubernetes', 'provider-down', text, status);
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: number }).code === 404;
}

export class KubernetesCompute implements Compute {
  readonly containers = true;
  private clusters?: Promise<Cluster[]>;
  private readonly forwards = new Map<string, Promise<Forward>>();
  /** What createInstance knows and Compute.create does not carry, by pod name. */
  private readonly requests = new Map<string, { resources?: ResourcesSpec; report?: (m: string) => void }>();

  constructor(private readonly opts: KubernetesComputeOptions) {}

  /**
   * Network volumes are PersistentVolumeClaims in the backend's namespace (region: the context), made
   * with the cluster's default storage class, ReadWriteOnce; the kubelet mounts one at the run's path.
   */
  readonly volumes: VolumeSupport = {
    mount: 'provider',
    create: async ({ name, region, sizeGb }) => {
      const c = await this.cluster(region);
      const body = {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name, namespace: c.namespace, labels: ownedLabels(this.opts.homeId) },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: `${Math.max(1, Math.ceil(sizeGb))}Gi` } } },
      };
      const made = await c.api.createNamespacedPersistentVolumeClaim({ namespace: c.namespace, body: body as never }).catch((e) => {
        throw apiError(e, `creating the persistent volume claim ${name} in ${c.name}/${c.namespace}`);
      });
      return claimVolume(made, c.name);
    },
    get: async (id) => {
      const { pod: name, context } = splitId(id);
      const c = await this.cluster(context);
      try {
        return claimVolume(await c.api.readNamespacedPersistentVolumeClaim({ name, namespace: c.namespace }), c.name);
      } catch (e) {
        if (isNotFound(e)) return null;
        throw apiError(e, `reading the persistent volume claim ${name}`);
      }
    },
    delete: async (id) => {
      const { pod: name, context } = splitId(id);
      const c = await this.cluster(context);
      await c.api.deleteNamespacedPersistentVolumeClaim({ name, namespace: c.namespace }).catch((e) => {
        if (!isNotFound(e)) throw apiError(e, `deleting the persistent volume claim ${name}`);
      });
    },
  };

  /** Remembers the run's resources and its status reporter for the pod about to be created. */
  expect(pod: string, r: { resources?: ResourcesSpec; report?: (m: string) => void }): void {
    this.requests.set(pod, r);
  }

  private load(): Promise<Cluster[]> {
    this.clusters ??= (async () => {
      const { KubeConfig, CoreV1Api } = await import('@kubernetes/client-node');
      const text = this.opts.kubeconfig.data;
      const base = new KubeConfig();
      if (text) base.loadFromString(text);
      else base.loadFromFile(this.opts.kubeconfig.filename!);
      const known = base.getContexts().map((c) => c.name);
      const names = this.opts.contexts ?? [base.getCurrentContext()];
      return names.map((name) => {
        if (!known.includes(name))
          throw new Error(`kubernetes: context ${JSON.stringify(name)} is not in the kubeconfig (it has: ${known.join(', ') || 'none'})`);
        const kc = new KubeConfig();
        if (text) kc.loadFromString(text);
        else kc.loadFromFile(this.opts.kubeconfig.filename!);
        kc.setCurrentContext(name);
        const namespace = this.opts.namespace ?? kc.getContextObject(name)?.namespace ?? 'default';
        return { name, kc, api: kc.makeApiClient(CoreV1Api), namespace };
      });
    })();
    this.clusters.catch(() => {
      this.clusters = undefined;
    });
    return this.clusters;
  }

  private async cluster(context: string): Promise<Cluster> {
    const all = await this.load();
    const c = all.find((x) => x.name === context) ?? (context ? undefined : all[0]);
    if (!c) throw new Error(`kubernetes: context ${JSON.stringify(context)} is no longer in this backend's contexts`);
    return c;
  }

  /** Every node of every context, with what is free on it now. */
  async capacities(): Promise<{ context: string; nodes: NodeCapacity[] }[]> {
    const clusters = await this.load();
    return Promise.all(
      clusters.map(async (c) => {
        const nodes = await c.api.listNode().catch((e) => {
          throw apiError(e, `listing the nodes of ${c.name}`);
        });
        const caps = await Promise.all(
          nodes.items.map(async (n) => {
            const name = n.metadata?.name ?? '';
            // What the pods placed there hold, as `kubectl describe node` counts it.
            const pods = await c.api
              .listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${name},status.phase!=Succeeded,status.phase!=Failed` })
              .catch((e) => {
                throw apiError(e, `listing the pods on node ${name}`);
              });
            return nodeCapacity(n, pods.items);
          }),
        );
        return { context: c.name, nodes: caps };
      }),
    );
  }

  async offers(): Promise<Offer[]> {
    return (await this.capacities()).flatMap((c) => c.nodes.map((n) => nodeOffer(n, c.context, this.opts.price)));
  }

  async create(req: CreateRequest): Promise<string> {
    const c = req.container;
    if (!c) throw new Error('kubernetes: a pod needs the run’s container (image and command)');
    const cluster = await this.cluster(req.offer.region);
    const extra = this.requests.get(req.name) ?? {};
    const node = await cluster.api.readNode({ name: req.offer.instanceType }).catch((e) => {
      if (isNotFound(e)) throw new CloudNoCapacityError('kubernetes', `node ${req.offer.instanceType} is gone from ${cluster.name}`);
      throw apiError(e, `reading node ${req.offer.instanceType}`);
    });
    const body = podManifest({
      name: req.name,
      namespace: cluster.namespace,
      homeId: this.opts.homeId,
      runName: req.name.replace(/^dstack-[0-9a-f]{8}-/, '').replace(/-\d+$/, ''),
      image: c.image,
      command: c.command,
      sshPort: c.sshPort,
      offer: req.offer,
      hostname: node.metadata?.labels?.['kubernetes.io/hostname'] ?? req.offer.instanceType,
      resources: extra.resources,
      claims: (req.volumes ?? []).map((v) => ({ claim: splitId(v.volume.id).pod, path: v.path })),
    });
    try {
      await cluster.api.createNamespacedPod({ namespace: cluster.namespace, body: body as V1Pod });
    } catch (e) {
      // Made by a call whose answer was lost: it is ours by name.
      if ((e as { code?: number }).code !== 409) throw apiError(e, `creating pod ${req.name} in ${cluster.name}/${cluster.namespace}`);
    }
    return `${req.name}${SEP}${cluster.name}`;
  }

  async get(id: string): Promise<CloudInstance | null> {
    const { pod: name, context } = splitId(id);
    const cluster = await this.cluster(context);
    let pod: V1Pod;
    try {
      pod = await cluster.api.readNamespacedPod({ name, namespace: cluster.namespace });
    } catch (e) {
      if (isNotFound(e)) return null;
      throw apiError(e, `reading pod ${name}`);
    }
    const inst = podInstance(pod, cluster.name);
    if (inst.state === 'pending') await this.pending(cluster, pod, inst);
    if (inst.state === 'running') {
      const fwd = await this.forward(id);
      inst.ip = '127.0.0.1';
      inst.sshPort = fwd.port;
    }
    return inst;
  }

  /** A pod not running yet: why, said to the run; an image that cannot be pulled or a pod never placed ends the wait. */
  private async pending(cluster: Cluster, pod: V1Pod, inst: CloudInstance): Promise<void> {
    const name = pod.metadata?.name ?? '';
    const report = this.requests.get(name)?.report;
    const waiting = pod.status?.containerStatuses?.find((s) => s.name === CONTAINER_NAME)?.state?.waiting;
    const image = pod.spec?.containers?.[0]?.image ?? '';
    if (waiting?.reason === 'ImagePullBackOff' || waiting?.reason === 'InvalidImageName' || waiting?.reason === 'ErrImageNeverPull') {
      throw new ContainerCreateError(
        `kubernetes: the image ${image} cannot be pulled by the cluster (${waiting.reason}: ${waiting.message ?? ''})`,
      );
    }
    const sched = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (sched?.status === 'False' && sched.reason === 'Unschedulable') {
      let message = sched.message ?? '';
      if (!message) {
        // The scheduler's FailedScheduling event says the same where the condition has no message.
        const events = await cluster.api
          .listNamespacedEvent({ namespace: cluster.namespace, fieldSelector: `involvedObject.name=${name}` })
          .catch(() => ({ items: [] as { reason?: string; message?: string }[] }));
        message = events.items.filter((e) => e.reason === 'FailedScheduling').at(-1)?.message ?? '';
      }
      const since = Date.parse(String(pod.metadata?.creationTimestamp ?? '')) || Date.now();
      if (Date.now() - since >= this.opts.pendingTimeoutMs) {
        throw new CloudNoCapacityError(
          'kubernetes',
          `pod ${name} could not be scheduled in ${cluster.name} within pending_timeout (${Math.round(this.opts.pendingTimeoutMs / 1000)}s): ${message || 'Unschedulable'}`,
        );
      }
      report?.(`pending (Unschedulable: ${message})`);
      inst.providerState = `Pending (Unschedulable: ${message})`;
      return;
    }
    if (waiting?.reason) {
      report?.(`pending (${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''})`);
      inst.providerState = `Pending (${waiting.reason})`;
    }
  }

  private forward(id: string, port = 0): Promise<Forward> {
    let f = this.forwards.get(id);
    if (!f) {
      const { pod, context } = splitId(id);
      f = this.cluster(context).then((c) =>
        openForward({ kc: c.kc, namespace: c.namespace, pod, port: 10022 }, port, (m) => this.opts.log?.(m)),
      );
      this.forwards.set(id, f);
      f.catch(() => this.forwards.delete(id));
    }
    return f;
  }

  /**
   * After a daemon restart: the loopback port the instance's record (and the user's SSH block) names
   * is opened again; a port taken by something else meanwhile is an error that says so.
   */
  async reopen(id: string, port: number): Promise<void> {
    const f = await this.forward(id, port);
    if (f.port !== port) throw new Error(`kubernetes: pod ${splitId(id).pod} is forwarded on port ${f.port}, its record says ${port}`);
  }

  async list(): Promise<CloudInstance[]> {
    const clusters = await this.load();
    const lists = await Promise.all(
      clusters.map(async (c) => {
        const pods = await c.api
          .listNamespacedPod({ namespace: c.namespace, labelSelector: ownedSelector(this.opts.homeId) })
          .catch((e) => {
            throw apiError(e, `listing pods in ${c.name}/${c.namespace}`);
          });
        return pods.items.map((p) => podInstance(p, c.name));
      }),
    );
    return lists.flat();
  }

  async terminate(id: string): Promise<void> {
    const { pod: name, context } = splitId(id);
    const f = this.forwards.get(id);
    this.forwards.delete(id);
    await f?.then((x) => x.close()).catch(() => undefined);
    this.requests.delete(name);
    const cluster = await this.cluster(context);
    try {
      await cluster.api.deleteNamespacedPod({ name, namespace: cluster.namespace, gracePeriodSeconds: 5 });
    } catch (e) {
      if (!isNotFound(e)) throw apiError(e, `deleting pod ${name}`);
    }
  }

  async check(): Promise<void> {
    for (const c of await this.load()) {
      await c.api.listNode({ limit: 1 }).catch((e) => {
        throw apiError(e, `${c.name}: listing nodes`);
      });
      await c.api.listNamespacedPod({ namespace: c.namespace, limit: 1 }).catch((e) => {
        throw apiError(e, `${c.name}: listing pods in ${c.namespace}`);
      });
    }
  }
}

/** A pod in CloudInstance's words. */
export function podInstance(pod: V1Pod, context: string): CloudInstance {
  const name = pod.metadata?.name ?? '';
  const phase = pod.status?.phase ?? 'Pending';
  const cs = pod.status?.containerStatuses?.find((s) => s.name === CONTAINER_NAME);
  const terminated = cs?.state?.terminated;
  const base = {
    id: `${name}${SEP}${context}`,
    name,
    ip: '',
    sshPort: 0,
    sshUser: 'root',
    region: context,
    createdMs: Date.parse(String(pod.metadata?.creationTimestamp ?? '')) || undefined,
  };
  if (pod.metadata?.deletionTimestamp) return { ...base, state: 'terminated', providerState: 'Terminating' };
  if (phase === 'Failed' && pod.status?.reason === 'Evicted') {
    // The kubelet took the node's resources back (pressure, a drain): the run's retry `interruption`.
    return { ...base, state: 'terminated', providerState: 'Evicted', statusMessage: pod.status?.message ?? 'evicted', interrupted: true };
  }
  if (terminated?.reason === 'OOMKilled') {
    const limit = pod.spec?.containers?.[0]?.resources?.limits?.memory;
    return {
      ...base,
      state: 'failed',
      oomKilled: true,
      providerState: `${phase} (OOMKilled)`,
      statusMessage: `OOMKilled: the container went over its memory limit${limit ? ` of ${limit}` : ''} (ask for more with resources.memory)`,
    };
  }
  if (phase === 'Failed' || phase === 'Succeeded' || terminated) {
    const why = terminated?.message?.trim() || terminated?.reason || pod.status?.message || '';
    return {
      ...base,
      state: 'stopped',
      providerState: `${phase}${terminated ? `, exit code ${terminated.exitCode}` : ''}`,
      ...(why ? { statusMessage: why } : {}),
    };
  }
  if (phase === 'Running' && cs?.state?.running) return { ...base, state: 'running', providerState: 'Running' };
  return { ...base, state: 'pending', providerState: phase };
}

/** A claim as a NetworkVolume: its id `<claim>@<context>`, as a pod's. */
function claimVolume(
  pvc: { metadata?: { name?: string }; spec?: { resources?: { requests?: Record<string, string> } }; status?: { phase?: string } },
  context: string,
): NetworkVolume {
  const name = pvc.metadata?.name ?? '';
  return {
    id: `${name}${SEP}${context}`,
    name,
    region: context,
    sizeGb: Math.round(parseQuantity(pvc.spec?.resources?.requests?.storage) / 2 ** 30),
    providerState: pvc.status?.phase ?? 'Pending',
  };
}
