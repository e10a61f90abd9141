// A TEST DOUBLE of a Kubernetes API server, for tests only: no API server can be installed on these
// machines (none is packaged in Debian or npm). It answers what @kubernetes/client-node sends for
// packages/backends/src/kubernetes/, in the documented shapes:
//   - objects and lists: Node, Pod, Event (core/v1), `Status` for errors (kind: Status, reason NotFound /
//     AlreadyExists / Unauthorized, code): https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/node-v1/,
//     https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/,
//     https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/event-v1/,
//     https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/
//   - the REST paths: GET /api/v1/nodes[/{name}], GET /api/v1/pods (all namespaces) and
//     /api/v1/namespaces/{ns}/pods with labelSelector (`a=b,c=d`) and fieldSelector
//     (`spec.nodeName=`, `status.phase!=`, `metadata.name=`), POST (201; 409 AlreadyExists), GET and
//     DELETE of one pod (404 NotFound), GET /api/v1/namespaces/{ns}/events with fieldSelector
//     `involvedObject.name=`: https://kubernetes.io/docs/reference/using-api/api-concepts/ and
//     https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/
//   - authentication: HTTPS with a self-signed certificate made with openssl here (the kubeconfig's
//     `certificate-authority-data`), a bearer token (the kubeconfig user's `token`), 401 Unauthorized
//     otherwise: https://kubernetes.io/docs/reference/access-authn-authz/authentication/
//   - the scheduler's words: a pod it cannot place gets `PodScheduled=False, reason Unschedulable` and
//     a FailedScheduling event, message `0/N nodes are available: <count> <reason>, ... preemption:
//     0/N nodes are available: N Preemption is not helpful for scheduling.` (the shape kube-scheduler
//     writes: https://kubernetes.io/docs/concepts/scheduling-eviction/kube-scheduler/ and
//     https://kubernetes.io/docs/tasks/debug/debug-application/debug-pods/); `Insufficient <resource>`
//     for requests over a node's allocatable minus what its pods request (extended resources such as
//     nvidia.com/gpu too: https://kubernetes.io/docs/tasks/manage-gpus/scheduling-gpus/), and
//     `node(s) didn't match Pod's node affinity/selector` for a nodeSelector that does not match.
//   - container states: `waiting` ErrImagePull then ImagePullBackOff for an image the engine does not
//     have (https://kubernetes.io/docs/concepts/containers/images/#imagepullbackoff), `running`,
//     `terminated` (reason Error / OOMKilled, exitCode); eviction: phase Failed, reason Evicted with
//     the kubelet's message (https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/).
//   - PersistentVolumeClaims: POST/GET/DELETE /api/v1/namespaces/{ns}/persistentvolumeclaims[/{name}],
//     bound at once (a default storage class that binds immediately); a pod naming a claim that does not
//     exist is Unschedulable with `persistentvolumeclaim "X" not found`:
//     https://kubernetes.io/docs/reference/kubernetes-api/config-and-storage-resources/persistent-volume-claim-v1/
//     and https://kubernetes.io/docs/concepts/storage/persistent-volumes/. A claim's storage is a folder
//     of this machine bound into the pod's container at the volumeMount's path, so what one pod writes
//     the next pod with that claim reads.
//   - port-forward: GET /api/v1/namespaces/{ns}/pods/{name}/portforward?ports=P upgraded to a WebSocket
//     (RFC 6455, written here: no WebSocket server package is a dependency) with subprotocol
//     `v4.channel.k8s.io` (the kubelet's websocket port-forward: channel 2i carries port i's data,
//     2i+1 its errors; each channel's first frame from the server is the port, 2 bytes little-endian;
//     every frame's first byte is its channel): https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#get-connect-portforward-pod-v1-core
//     and kubelet's pkg/kubelet/cri/streaming/portforward/websocket.go.
//
// Its pods are REAL: a pod the scheduler placed runs its image and command as a container of the test
// engine in a network namespace of its own (test/clouds/container-instances.ts); port-forward connects
// to that container's address. So SSH, the agent and the job past the API are real.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { run } from '../harness/util';
import { DOCKER_HOST } from '../harness/docker';
import type { ContainerInstance, ContainerInstances } from '../clouds/container-instances';

export interface DoubleNode {
  name: string;
  cpu: string;
  memory: string;
  /** Default 200Gi. */
  ephemeralStorage?: string;
  gpu?: { resource: 'nvidia.com/gpu' | 'amd.com/gpu'; count: number; labels: Record<string, string> };
  labels?: Record<string, string>;
}

// The double keeps API objects as the JSON they are.
type Json = any;

interface DoublePod {
  pod: Json;
  instance?: ContainerInstance;
  events: Json[];
}

export interface KubernetesDouble {
  url: string;
  /** A kubeconfig file (CA data, bearer token, context `test-cluster`, namespace as given). */
  kubeconfigFile: string;
  context: string;
  namespace: string;
  /** Every pod as the API last described it (deleted ones are gone). */
  pods(): Json[];
  /** Pod bodies as POSTed, in order. */
  created: Json[];
  /** Requests seen, "METHOD path?query". */
  requests: string[];
  /** Called with each POSTed pod before the scheduler sees it. */
  onCreate?: (body: Json) => void;
  /** Claims as the API last described them. */
  claims(): Json[];
  /** Pods placed on a node outside this backend (taking room), as another team's would. */
  occupy(node: string, requests: Record<string, string>): void;
  /** The kernel's OOM killer ends the pod's container: terminated, reason OOMKilled, exit code 137. */
  oomKill(name: string): Promise<void>;
  /** Evicts a pod as the kubelet does under node pressure: its container killed, phase Failed, reason Evicted. */
  evict(name: string): Promise<void>;
  close(): Promise<void>;
}

const GI = 2 ** 30;

function quantity(q: string | undefined): number {
  if (!q) return 0;
  const m = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q);
  if (!m) return Number.NaN;
  const mult: Record<string, number> = { m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: GI, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Number(m[1]) * (m[2] ? mult[m[2]] : 1);
}

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
}

function send(res: ServerResponse, code: number, body: Json): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** `a=b,c!=d` against an object's fields (as field selectors) or labels. */
function matches(selector: string | null, get: (key: string) => string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const ne = term.split('!=');
    if (ne.length === 2) return get(ne[0]) !== ne[1];
    const [k, v] = term.split('=');
    return get(k) === v;
  });
}

function field(pod: Json, key: string): string | undefined {
  switch (key) {
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'status.phase':
      return pod.status?.phase;
    case 'metadata.name':
      return pod.metadata?.name;
    case 'metadata.namespace':
      return pod.metadata?.namespace;
    default:
      return undefined;
  }
}

export async function startKubernetesDouble(opts: {
  nodes: DoubleNode[];
  instances: ContainerInstances;
  dir: string;
  namespace?: string;
}): Promise<KubernetesDouble> {
  const namespace = opts.namespace ?? 'dstack';
  const context = 'test-cluster';
  const token = randomBytes(16).toString('hex');
  const keyFile = join(opts.dir, 'apiserver.key');
  const certFile = join(opts.dir, 'apiserver.crt');
  const made = await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '1',
    '-subj',
    '/CN=kube-apiserver',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  if (made.code !== 0) throw new Error(`openssl could not make the API server's certificate: ${made.stderr}`);
  const { readFileSync } = await import('node:fs');
  const cert = readFileSync(certFile);
  const pods = new Map<string, DoublePod>();
  const claims = new Map<string, Json>();
  const claimDir = (name: string) => join(opts.dir, 'pvc', name);
  const created: Json[] = [];
  const requests: string[] = [];
  let others = 0;
  let seq = 0;

  const nodeObject = (n: DoubleNode): Json => {
    const allocatable: Record<string, string> = {
      cpu: n.cpu,
      memory: n.memory,
      'ephemeral-storage': n.ephemeralStorage ?? '200Gi',
      pods: '110',
    };
    if (n.gpu) allocatable[n.gpu.resource] = String(n.gpu.count);
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: n.name,
        uid: `node-${n.name}`,
        labels: {
          'kubernetes.io/hostname': n.name,
          'kubernetes.io/arch': 'amd64',
          'kubernetes.io/os': 'linux',
          ...(n.gpu?.labels ?? {}),
          ...(n.labels ?? {}),
        },
      },
      spec: {},
      status: {
        capacity: allocatable,
        allocatable,
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' }],
      },
    };
  };

  const used = (node: string): Map<string, number> => {
    const sum = new Map<string, number>();
    for (const p of pods.values()) {
      if (p.pod.spec.nodeName !== node || ['Succeeded', 'Failed'].includes(p.pod.status.phase)) continue;
      for (const c of p.pod.spec.containers)
        for (const [k, v] of Object.entries(c.resources?.requests ?? {})) sum.set(k, (sum.get(k) ?? 0) + quantity(v as string));
    }
    return sum;
  };

  const event = (p: DoublePod, type: string, reason: string, message: string) => {
    const now = new Date().toISOString();
    p.events.push({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${p.pod.metadata.name}.${(seq++).toString(16)}`, namespace: p.pod.metadata.namespace },
      involvedObject: { kind: 'Pod', name: p.pod.metadata.name, namespace: p.pod.metadata.namespace, uid: p.pod.metadata.uid },
      type,
      reason,
      message,
      source: { component: reason === 'FailedScheduling' || reason === 'Scheduled' ? 'default-scheduler' : 'kubelet' },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    });
  };

  const containerStatus = (p: DoublePod, state: Json) => {
    p.pod.status.containerStatuses = [
      { name: p.pod.spec.containers[0].name, image: p.pod.spec.containers[0].image, ready: !!state.running, restartCount: 0, state },
    ];
  };

  /** kube-scheduler's filter: the node selector, then each resource requested against what is free. */
  const schedule = (p: DoublePod): void => {
    const reasons = new Map<string, number>();
    const total = opts.nodes.length;
    const missing = (p.pod.spec.volumes ?? []).find(
      (v: Json) => v.persistentVolumeClaim && !claims.has(`${p.pod.metadata.namespace}/${v.persistentVolumeClaim.claimName}`),
    );
    if (missing) {
      const message = `0/${total} nodes are available: persistentvolumeclaim "${missing.persistentVolumeClaim.claimName}" not found. preemption: 0/${total} nodes are available: ${total} Preemption is not helpful for scheduling.`;
      p.pod.status.conditions = [
        { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastTransitionTime: new Date().toISOString() },
      ];
      event(p, 'Warning', 'FailedScheduling', message);
      return;
    }
    const want: Record<string, string> = p.pod.spec.containers[0].resources?.requests ?? {};
    const selector: Record<string, string> = p.pod.spec.nodeSelector ?? {};
    for (const n of opts.nodes) {
      const labels = nodeObject(n).metadata.labels;
      if (!Object.entries(selector).every(([k, v]) => labels[k] === v)) {
        const r = "node(s) didn't match Pod's node affinity/selector";
        reasons.set(r, (reasons.get(r) ?? 0) + 1);
        continue;
      }
      const alloc = nodeObject(n).status.allocatable;
      const inUse = used(n.name);
      const short = Object.entries(want).filter(([k, v]) => quantity(v) > quantity(alloc[k] ?? '0') - (inUse.get(k) ?? 0));
      if (short.length) {
        for (const [k] of short) reasons.set(`Insufficient ${k}`, (reasons.get(`Insufficient ${k}`) ?? 0) + 1);
        continue;
      }
      p.pod.spec.nodeName = n.name;
      p.pod.status.conditions = [{ type: 'PodScheduled', status: 'True', lastTransitionTime: new Date().toISOString() }];
      event(p, 'Normal', 'Scheduled', `Successfully assigned ${p.pod.metadata.namespace}/${p.pod.metadata.name} to ${n.name}`);
      void start(p);
      return;
    }
    const list = [...reasons.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([r, c]) => `${c} ${r}`)
      .join(', ');
    const message = `0/${total} nodes are available: ${list}. preemption: 0/${total} nodes are available: ${total} Preemption is not helpful for scheduling.`;
    p.pod.status.conditions = [
      { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastTransitionTime: new Date().toISOString() },
    ];
    event(p, 'Warning', 'FailedScheduling', message);
  };

  /** The kubelet: pull (the engine has the image or not), then run the container in its own network namespace. */
  const start = async (p: DoublePod): Promise<void> => {
    const c = p.pod.spec.containers[0];
    containerStatus(p, { waiting: { reason: 'ContainerCreating' } });
    const has = await run('docker', ['-H', DOCKER_HOST, 'image', 'inspect', c.image]);
    if (has.code !== 0) {
      const msg = `failed to pull and unpack image "${c.image}": pull access denied, repository does not exist or may require authorization`;
      containerStatus(p, { waiting: { reason: 'ErrImagePull', message: msg } });
      event(p, 'Warning', 'Failed', `Failed to pull image "${c.image}": ${msg}`);
      setTimeout(() => {
        if (!pods.has(p.pod.metadata.name)) return;
        containerStatus(p, { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image}"` } });
        event(p, 'Normal', 'BackOff', `Back-off pulling image "${c.image}"`);
      }, 1000);
      return;
    }
    const [entry, ...args] = c.command;
    // Each claim's folder at its mount path, as the kubelet mounts the bound volume.
    const byName = new Map<string, string>(
      (p.pod.spec.volumes ?? [])
        .filter((v: Json) => v.persistentVolumeClaim)
        .map((v: Json) => [v.name, claimDir(v.persistentVolumeClaim.claimName)]),
    );
    const binds = (c.volumeMounts ?? [])
      .filter((m: Json) => byName.has(m.name))
      .map((m: Json) => ({ source: byName.get(m.name)!, target: m.mountPath }));
    p.instance = await opts.instances.launch({
      name: `k8s-${p.pod.metadata.name}`,
      image: c.image,
      command: [entry, ...args],
      env: {},
      binds,
    });
    if (!pods.has(p.pod.metadata.name)) {
      await p.instance.remove();
      return;
    }
    p.pod.status.phase = 'Running';
    p.pod.status.podIP = p.instance.ip;
    p.pod.status.startTime = new Date().toISOString();
    containerStatus(p, { running: { startedAt: new Date().toISOString() } });
    event(p, 'Normal', 'Started', `Started container ${c.name}`);
  };

  /** A running container that ended on its own: terminated, with its last line as the message. */
  const refresh = async (p: DoublePod): Promise<void> => {
    if (p.pod.status.phase !== 'Running' || !p.instance) return;
    const s = await p.instance.state();
    if (s.state === 'running') return;
    const last = (await p.instance.logs()).trim().split('\n').at(-1) ?? '';
    p.pod.status.phase = s.exitCode === 0 ? 'Succeeded' : 'Failed';
    containerStatus(p, {
      terminated: {
        exitCode: s.exitCode,
        reason: s.exitCode === 0 ? 'Completed' : 'Error',
        message: last,
        finishedAt: new Date().toISOString(),
      },
    });
  };

  const remove = async (name: string): Promise<Json | undefined> => {
    const p = pods.get(name);
    if (!p) return undefined;
    pods.delete(name);
    await p.instance?.remove();
    // The scheduler tries the pods it could not place again once room is freed.
    for (const q of pods.values()) if (!q.pod.spec.nodeName) schedule(q);
    return p.pod;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'https://x');
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (req.headers.authorization !== `Bearer ${token}`) return status(res, 401, 'Unauthorized', 'Unauthorized');
    const parts = url.pathname.split('/').filter(Boolean);
    const q = url.searchParams;
    if (parts[0] !== 'api' || parts[1] !== 'v1') return status(res, 404, 'NotFound', 'the server could not find the requested resource');
    const rest = parts.slice(2);
    const list = (kind: string, items: Json[]) =>
      send(res, 200, { apiVersion: 'v1', kind, metadata: { resourceVersion: String(seq) }, items });
    if (rest[0] === 'nodes') {
      if (rest.length === 1) return list('NodeList', opts.nodes.slice(0, Number(q.get('limit')) || undefined).map(nodeObject));
      const n = opts.nodes.find((x) => x.name === rest[1]);
      return n ? send(res, 200, nodeObject(n)) : status(res, 404, 'NotFound', `nodes "${rest[1]}" not found`);
    }
    const podList = async (ns: string | null) => {
      const out: Json[] = [];
      for (const p of pods.values()) {
        if (ns && p.pod.metadata.namespace !== ns) continue;
        await refresh(p);
        if (!matches(q.get('labelSelector'), (k) => p.pod.metadata.labels?.[k])) continue;
        if (!matches(q.get('fieldSelector'), (k) => field(p.pod, k))) continue;
        out.push(p.pod);
      }
      return list('PodList', out.slice(0, Number(q.get('limit')) || undefined));
    };
    if (rest[0] === 'pods' && rest.length === 1 && req.method === 'GET') return podList(null);
    if (rest[0] !== 'namespaces' || !rest[1]) return status(res, 404, 'NotFound', 'the server could not find the requested resource');
    const ns = rest[1];
    if (rest[2] === 'events' && rest.length === 3) {
      const all = [...pods.values()].flatMap((p) => p.events).filter((e) => e.metadata.namespace === ns);
      return list(
        'EventList',
        all.filter((e) => matches(q.get('fieldSelector'), (k) => (k === 'involvedObject.name' ? e.involvedObject.name : undefined))),
      );
    }
    if (rest[2] === 'persistentvolumeclaims') {
      const key = (n: string) => `${ns}/${n}`;
      if (rest.length === 3 && req.method === 'POST') {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        const name = body.metadata?.name;
        if (claims.has(key(name))) return status(res, 409, 'AlreadyExists', `persistentvolumeclaims "${name}" already exists`);
        mkdirSync(claimDir(name), { recursive: true, mode: 0o777 });
        const pvc = {
          ...body,
          metadata: { ...body.metadata, namespace: ns, uid: randomBytes(8).toString('hex'), creationTimestamp: new Date().toISOString() },
          status: { phase: 'Bound', accessModes: body.spec?.accessModes, capacity: body.spec?.resources?.requests },
        };
        claims.set(key(name), pvc);
        return send(res, 201, pvc);
      }
      const pvc = claims.get(key(rest[3]));
      if (rest.length === 4 && (req.method === 'GET' || req.method === 'DELETE')) {
        if (!pvc) return status(res, 404, 'NotFound', `persistentvolumeclaims "${rest[3]}" not found`);
        if (req.method === 'DELETE') {
          claims.delete(key(rest[3]));
          rmSync(claimDir(rest[3]), { recursive: true, force: true });
        }
        return send(res, 200, pvc);
      }
      return status(res, 405, 'MethodNotAllowed', `${req.method} is not supported here`);
    }
    if (rest[2] !== 'pods') return status(res, 404, 'NotFound', 'the server could not find the requested resource');
    if (rest.length === 3 && req.method === 'GET') return podList(ns);
    if (rest.length === 3 && req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const name = body.metadata?.name;
      if (pods.has(name)) return status(res, 409, 'AlreadyExists', `pods "${name}" already exists`);
      created.push(structuredClone(body));
      double.onCreate?.(body);
      const p: DoublePod = {
        pod: {
          ...body,
          metadata: { ...body.metadata, namespace: ns, uid: randomBytes(8).toString('hex'), creationTimestamp: new Date().toISOString() },
          status: { phase: 'Pending', qosClass: 'Burstable' },
        },
        events: [],
      };
      pods.set(name, p);
      schedule(p);
      return send(res, 201, p.pod);
    }
    const name = rest[3];
    const p = pods.get(name);
    if (rest.length === 4 && req.method === 'GET') {
      if (!p || p.pod.metadata.namespace !== ns) return status(res, 404, 'NotFound', `pods "${name}" not found`);
      await refresh(p);
      return send(res, 200, p.pod);
    }
    if (rest.length === 4 && req.method === 'DELETE') {
      if (!p || p.pod.metadata.namespace !== ns) return status(res, 404, 'NotFound', `pods "${name}" not found`);
      return send(res, 200, await remove(name));
    }
    return status(res, 405, 'MethodNotAllowed', `${req.method} is not supported here`);
  };

  const server: Server = createServer({ key: readFileSync(keyFile), cert }, (req, res) => {
    handle(req, res).catch((err: Error) => status(res, 500, 'InternalError', err.message));
  });

  // GET .../pods/{name}/portforward?ports=P, upgraded: the kubelet's websocket port-forward.
  server.on('upgrade', (req: IncomingMessage, sock: Duplex) => {
    const url = new URL(req.url ?? '/', 'https://x');
    requests.push(`UPGRADE ${url.pathname}${url.search}`);
    const reject = (code: number, text: string) => {
      sock.end(`HTTP/1.1 ${code} ${text}\r\ncontent-length: 0\r\n\r\n`);
    };
    if (req.headers.authorization !== `Bearer ${token}`) return reject(401, 'Unauthorized');
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/portforward$/.exec(url.pathname);
    const p = m ? pods.get(m[2]) : undefined;
    if (!m || !p || p.pod.metadata.namespace !== m[1]) return reject(404, 'Not Found');
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((s) => s.trim());
    if (!offered.includes('v4.channel.k8s.io')) return reject(400, 'Bad Request');
    const port = Number(url.searchParams.get('ports'));
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    sock.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n`,
    );
    const frame = (opcode: number, payload: Buffer) => {
      const len = payload.length;
      const head = len < 126 ? Buffer.from([0x80 | opcode, len]) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
      if (len >= 126 && len < 65536) {
        head[0] = 0x80 | opcode;
        head[1] = 126;
        head.writeUInt16BE(len, 2);
      } else if (len >= 65536) {
        head[0] = 0x80 | opcode;
        head[1] = 127;
        head.writeBigUInt64BE(BigInt(len), 2);
      }
      if (!sock.destroyed) sock.write(Buffer.concat([head, payload]));
    };
    const channel = (ch: number, data: Buffer) => frame(0x2, Buffer.concat([Buffer.from([ch]), data]));
    const portBytes = Buffer.alloc(2);
    portBytes.writeUInt16LE(port);
    channel(0, portBytes);
    channel(1, portBytes);
    let tcp: Socket | undefined;
    const close = () => {
      frame(0x8, Buffer.from([0x03, 0xe8]));
      sock.end();
    };
    if (!p.pod.status.podIP) {
      channel(1, Buffer.from(`pod ${m[2]} has no IP: it is not running`));
      close();
      return;
    }
    tcp = connect(port, p.pod.status.podIP);
    tcp.on('data', (d: Buffer) => channel(0, d));
    tcp.on('error', (err) => {
      channel(1, Buffer.from(`error forwarding port ${port} to pod ${m[2]}: ${err.message}`));
      close();
    });
    tcp.on('close', () => close());
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (buf.length < 2) return;
        const opcode = buf[0] & 0x0f;
        let len = buf[1] & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          off = 10;
        }
        const masked = (buf[1] & 0x80) !== 0;
        const maskAt = off;
        if (masked) off += 4;
        if (buf.length < off + len) return;
        const payload = Buffer.from(buf.subarray(off, off + len));
        if (masked) for (let i = 0; i < len; i++) payload[i] ^= buf[maskAt + (i % 4)];
        buf = buf.subarray(off + len);
        if (opcode === 0x8) {
          tcp?.destroy();
          sock.end();
          return;
        }
        if (opcode === 0x9) frame(0xa, payload);
        else if ((opcode === 0x2 || opcode === 0x0) && payload.length > 0 && payload[0] === 0) tcp?.write(payload.subarray(1));
      }
    });
    sock.on('close', () => tcp?.destroy());
    sock.on('error', () => tcp?.destroy());
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubeconfigFile = join(opts.dir, 'kubeconfig');
  writeFileSync(
    kubeconfigFile,
    `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: ${url}
    certificate-authority-data: ${cert.toString('base64')}
users:
- name: dstack
  user:
    token: ${token}
contexts:
- name: ${context}
  context:
    cluster: test
    user: dstack
    namespace: ${namespace}
current-context: ${context}
`,
    { mode: 0o600 },
  );

  const double: KubernetesDouble = {
    url,
    kubeconfigFile,
    context,
    namespace,
    created,
    requests,
    pods: () => [...pods.values()].map((p) => p.pod),
    claims: () => [...claims.values()],
    occupy(node, req) {
      const name = `other-${others++}`;
      pods.set(name, {
        pod: {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name, namespace: 'other-team', labels: {}, creationTimestamp: new Date().toISOString() },
          spec: { nodeName: node, containers: [{ name: 'main', image: 'other', resources: { requests: req } }] },
          status: { phase: 'Running' },
        },
        events: [],
      });
    },
    async oomKill(name) {
      const p = pods.get(name);
      if (!p) throw new Error(`no pod ${name}`);
      // The status first: a GET while the container goes must not read it as an ordinary exit.
      const instance = p.instance;
      p.instance = undefined;
      p.pod.status.phase = 'Failed';
      containerStatus(p, { terminated: { exitCode: 137, reason: 'OOMKilled', finishedAt: new Date().toISOString() } });
      await instance?.remove();
    },
    async evict(name) {
      const p = pods.get(name);
      if (!p) throw new Error(`no pod ${name}`);
      const instance = p.instance;
      p.instance = undefined;
      p.pod.status.phase = 'Failed';
      p.pod.status.reason = 'Evicted';
      p.pod.status.message = 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. ';
      containerStatus(p, {
        terminated: {
          exitCode: 137,
          reason: 'ContainerStatusUnknown',
          message: 'The container could not be located when the pod was terminated',
        },
      });
      event(p, 'Warning', 'Evicted', p.pod.status.message);
      await instance?.remove();
    },
    async close() {
      for (const name of [...pods.keys()]) await remove(name);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections?.();
    },
  };
  return double;
}
