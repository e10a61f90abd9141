// A TEST DOUBLE of RunPod's GraphQL API (the RunPod GraphQL API reference, https://graphql-spec.runpod.io/,
// and https://docs.runpod.io/sdks/graphql/manage-pods; the request and response shapes of
// packages/backends/src/runpod/api.ts), for tests only: no RunPod endpoint can be reached here. It
// answers POST /graphql with Bearer auth (or `?api_key=`), and reads just enough GraphQL to know the
// operation (the top-level field: gpuTypes, myself, pod, podFindAndDeployOnDemand, podTerminate,
// podStop) and its `input` (from `variables`, as the client sends it; a podId written inline too). Its
// answers follow RunPod's: errors come in an HTTP 200 as `{"data": {...: null}, "errors": [{"message",
// "path"}]}` ("There are no longer any instances available with the requested specifications. Please
// refresh and try again." when a type has no stock, "pod not found to terminate"), a bad key is HTTP
// 401 (its body, `{"errors": [{"message": "Unauthorized"}]}`, is the double's guess), an unknown field
// is HTTP 400 as GraphQL servers answer a query that does not validate.
//
// Its pods are REAL: each deploy runs the image it names, with the command its dockerArgs carry
// (`{"cmd": [...], "entrypoint": [...]}`, as dstack sends it), as a container of the test engine in a
// network namespace of its own (test/clouds/container-instances.ts). A pod reports `runtime: null`
// for bootMs after its container started, then its ports at the container's address (public port =
// private port: the container has its own IP); a container that ended shows as EXITED with "Exited
// with code N"; terminating removes the container, and RunPod then forgets the pod (gone from
// myself.pods, `pod` answers null). Each GPU type has a stock of pods it can still place.
//
// Network volumes (https://docs.runpod.io/pods/storage/create-network-volumes, and the operations
// dstack's runpod/api_client.py sends: createNetworkVolume(input: {name, size, dataCenterId}),
// deleteNetworkVolume(input: {id}), myself { networkVolumes { id name size dataCenterId } }): each one
// is a folder of this machine, bound into the container of every pod deployed with its
// networkVolumeId at the deploy's volumeMountPath (RunPod's default /workspace), so a file one pod
// writes is there for the next. A deploy into another data center than the volume's is refused, as is
// deleting a volume a pod still has (the double's wording of both).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { BUSYBOX_IMAGE } from '../harness/images';
import type { ContainerInstance, ContainerInstances } from './container-instances';

export const NO_CAPACITY_MESSAGE =
  'There are no longer any instances available with the requested specifications. Please refresh and try again.';

export interface DoubleGpuType {
  /** gpuTypeId: "NVIDIA GeForce RTX 4090". */
  id: string;
  /** "RTX 4090" */
  displayName: string;
  /** "Nvidia" (default) or "AMD". */
  manufacturer?: string;
  memoryInGb: number;
  /** Default 8. */
  maxGpuCount?: number;
  /** Per GPU and hour. */
  securePrice: number;
  communityPrice?: number | null;
  /** vCPUs and RAM (GB) a pod gets per GPU (defaults 8 and 32). */
  vcpuPerGpu?: number;
  memoryPerGpu?: number;
  /** Pods it can still place; 0: deploys answer no capacity. A terminated pod gives its place back. */
  stock: number;
}

export interface DoubleFault {
  /** Matched against the GraphQL query text. */
  match: RegExp;
  message: string;
  /** Default 200: the error inside an HTTP 200, as RunPod answers; another status answers that. */
  status?: number;
  /** How many requests it answers (default 1). */
  times?: number;
}

type PodStatus = 'RUNNING' | 'EXITED' | 'TERMINATED';

interface DoublePod {
  id: string;
  name: string;
  type: DoubleGpuType;
  gpuCount: number;
  imageName: string;
  dockerArgs: string;
  /** "10022/tcp,8888/http" */
  ports: string;
  env: Record<string, string>;
  containerDiskInGb: number;
  desiredStatus: PodStatus;
  lastStatusChange: string;
  costPerHr: number;
  /** When runtime shows: bootMs after the container started. */
  runningAt: number;
  instance?: ContainerInstance;
  /** The container being started (terminate waits for it). */
  launching: Promise<void>;
  networkVolumeId?: string;
}

interface DoubleVolume {
  id: string;
  name: string;
  size: number;
  dataCenterId: string;
  /** The folder on this machine that holds its files. */
  dir: string;
}

export interface RunpodDouble {
  /** The endpoint (`api_url:`), http://127.0.0.1:PORT/graphql. */
  url: string;
  apiKey: string;
  /** The types as given: tests may change `stock` as they go. */
  gpuTypes: DoubleGpuType[];
  /** The operation of each request (its top-level field): "gpuTypes", "podFindAndDeployOnDemand", ... */
  requests: string[];
  /** The `input` of each podFindAndDeployOnDemand, as sent. */
  deploys: Record<string, unknown>[];
  /** Every pod ever deployed (terminated ones too); a container's exit shows within a second or so. */
  pods(): { id: string; name: string; desiredStatus: string; containerId?: string }[];
  fault(f: DoubleFault): void;
  /** The next pod's container never gets a network: nothing answers at its address. */
  deadNext(): void;
  /** Called on each deploy, after the pod exists (container started) and before the answer is sent. */
  onDeploy?: (id: string) => void | Promise<void>;
  /** Every network volume now, with the folder that holds its files. */
  networkVolumes(): { id: string; name: string; size: number; dataCenterId: string; dir: string }[];
  /** Deploys a pod as another client would (not through the daemon); its container starts in the background. */
  deployDirect(name: string, spec?: { image?: string; command?: string[] }): string;
  close(): Promise<void>;
}

function podId(seq: number): string {
  // RunPod's ids: 14 lower-case letters and digits.
  return `${seq.toString(36)}${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`.slice(0, 14);
}

/** The top-level field of the operation: what it asks. */
function operationOf(query: string): string | undefined {
  const text = query.replace(/#[^\n]*/g, '');
  const open = text.indexOf('{');
  if (open < 0) return undefined;
  return /^\s*(?:\w+\s*:\s*)?(\w+)/.exec(text.slice(open + 1))?.[1];
}

/** A field's `input` argument: `field(input: $var)` from the variables, or a podId written inline. */
function inputOf(query: string, field: string, variables: Record<string, unknown>): Record<string, unknown> | undefined {
  const byVar = new RegExp(`\\b${field}\\s*\\(\\s*input\\s*:\\s*\\$(\\w+)`).exec(query);
  if (byVar) {
    const v = variables[byVar[1]];
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  }
  const inline = new RegExp(`\\b${field}\\s*\\(\\s*input\\s*:\\s*\\{([^}]*)\\}`).exec(query);
  if (!inline) return undefined;
  const id = /podId\s*:\s*"([^"]*)"/.exec(inline[1]);
  const count = /gpuCount\s*:\s*(\d+)/.exec(inline[1]);
  return { ...(id ? { podId: id[1] } : {}), ...(count ? { gpuCount: Number(count[1]) } : {}) };
}

/** The image's command from dockerArgs: dstack's JSON form, else a shell line. */
function commandOf(dockerArgs: string): string[] | undefined {
  if (!dockerArgs.trim()) return undefined;
  try {
    const parsed = JSON.parse(dockerArgs) as { cmd?: unknown; entrypoint?: unknown };
    const entrypoint = Array.isArray(parsed.entrypoint) ? parsed.entrypoint.map(String) : [];
    const cmd = Array.isArray(parsed.cmd) ? parsed.cmd.map(String) : [];
    const argv = [...entrypoint, ...cmd];
    return argv.length ? argv : undefined;
  } catch {
    return ['/bin/sh', '-c', dockerArgs];
  }
}

function parsePorts(ports: string): { port: number; type: string }[] {
  return ports
    .split(',')
    .map((p) => /^\s*(\d+)\/(tcp|http)\s*$/.exec(p))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ port: Number(m[1]), type: m[2] }));
}

export async function startRunpodDouble(opts: {
  instances: ContainerInstances;
  gpuTypes: DoubleGpuType[];
  apiKey?: string;
  /** How long a started pod shows `runtime: null` (default 1500 ms). */
  bootMs?: number;
  /** Added to every answer: a provider's round trip (benches). */
  latencyMs?: number;
  /** Data centers a network volume may be made in (default EU-RO-1, US-KS-2). */
  dataCenters?: string[];
}): Promise<RunpodDouble> {
  const dataCenters = opts.dataCenters ?? ['EU-RO-1', 'US-KS-2'];
  const volumes: DoubleVolume[] = [];
  let volumesDir: string | undefined;
  const apiKey = opts.apiKey ?? `rpa_TEST${Math.random().toString(36).slice(2).toUpperCase()}`;
  const bootMs = opts.bootMs ?? 1500;
  const pods: DoublePod[] = [];
  const faults: DoubleFault[] = [];
  const requests: string[] = [];
  const deploys: Record<string, unknown>[] = [];
  let deadNext = false;
  let seq = 0;

  const stockStatus = (stock: number) => (stock >= 5 ? 'High' : stock >= 2 ? 'Medium' : stock >= 1 ? 'Low' : null);

  const lowestPrice = (t: DoubleGpuType, input: Record<string, unknown> | undefined) => {
    const count = typeof input?.gpuCount === 'number' ? input.gpuCount : 1;
    const secure = input?.secureCloud;
    const price =
      secure === true
        ? t.securePrice
        : secure === false
          ? (t.communityPrice ?? null)
          : Math.min(t.securePrice, t.communityPrice ?? Number.POSITIVE_INFINITY);
    const status = count <= (t.maxGpuCount ?? 8) && price !== null ? stockStatus(t.stock) : null;
    // Out of stock: no price, no CPU or RAM (gpuhunt notes RunPod leaves them out then).
    return {
      uninterruptablePrice: status ? price : null,
      minimumBidPrice: null,
      minVcpu: status ? (t.vcpuPerGpu ?? 8) * count : null,
      minMemory: status ? (t.memoryPerGpu ?? 32) * count : null,
      stockStatus: status,
    };
  };

  const gpuTypes = (query: string, variables: Record<string, unknown>) => {
    // Each `alias: lowestPrice(input: ...)` of the query, answered under its alias.
    const asked: { key: string; input: Record<string, unknown> | undefined }[] = [];
    for (const m of query.matchAll(/(?:(\w+)\s*:\s*)?lowestPrice\s*\(\s*input\s*:\s*(?:\$(\w+)|\{([^}]*)\})\s*\)/g)) {
      const count = m[3] ? /gpuCount\s*:\s*(\d+)/.exec(m[3]) : null;
      const input = m[2] ? (variables[m[2]] as Record<string, unknown> | undefined) : count ? { gpuCount: Number(count[1]) } : {};
      asked.push({ key: m[1] ?? 'lowestPrice', input });
    }
    return opts.gpuTypes.map((t) => ({
      id: t.id,
      displayName: t.displayName,
      manufacturer: t.manufacturer ?? 'Nvidia',
      memoryInGb: t.memoryInGb,
      maxGpuCount: t.maxGpuCount ?? 8,
      secureCloud: true,
      communityCloud: t.communityPrice != null,
      securePrice: t.securePrice,
      communityPrice: t.communityPrice ?? null,
      ...Object.fromEntries(asked.map((a) => [a.key, lowestPrice(t, a.input)])),
    }));
  };

  /** A pod whose container ended is EXITED, saying with what code. */
  const notice = async (p: DoublePod) => {
    if (p.desiredStatus !== 'RUNNING' || !p.instance) return;
    const s = await p.instance.state();
    if (s.state !== 'running' && p.desiredStatus === 'RUNNING') {
      p.desiredStatus = 'EXITED';
      p.lastStatusChange = s.state === 'gone' ? 'Exited' : `Exited with code ${s.exitCode}`;
    }
  };
  // Looked at every second too, so that pods() is current while nobody asks the API (a daemon down).
  let watching = false;
  const watcher = setInterval(() => {
    if (watching) return;
    watching = true;
    void Promise.all(pods.map(notice))
      .catch(() => undefined)
      .finally(() => {
        watching = false;
      });
  }, 1000);
  watcher.unref();

  /** The pod as RunPod shows it. */
  const view = async (p: DoublePod) => {
    await notice(p);
    const now = Date.now();
    const up = p.desiredStatus === 'RUNNING' && p.instance !== undefined && now >= p.runningAt;
    return {
      id: p.id,
      name: p.name,
      desiredStatus: p.desiredStatus,
      imageName: p.imageName,
      dockerArgs: p.dockerArgs,
      ports: p.ports,
      costPerHr: p.costPerHr,
      gpuCount: p.gpuCount,
      containerDiskInGb: p.containerDiskInGb,
      volumeInGb: 0,
      lastStatusChange: p.lastStatusChange,
      machineId: `m-${p.id}`,
      machine: { gpuDisplayName: p.type.displayName, podHostId: `${p.id}-64410b1e` },
      runtime: up
        ? {
            uptimeInSeconds: Math.floor((now - p.runningAt) / 1000),
            ports: parsePorts(p.ports).map(({ port, type }) => ({
              ip: p.instance!.ip,
              isIpPublic: type === 'tcp',
              privatePort: port,
              publicPort: port,
              type,
            })),
            gpus: [],
          }
        : null,
    };
  };

  const launch = async (p: DoublePod, command: string[], dead: boolean, binds?: { source: string; target: string }[]) => {
    try {
      p.instance = await opts.instances.launch({
        name: `runpod-${p.id}`,
        image: p.imageName,
        command,
        // RunPod's own variables beside the deploy's; RUNPOD_PUBLIC_IP is left out: the container's
        // address is known only once it runs.
        env: {
          ...p.env,
          RUNPOD_POD_ID: p.id,
          RUNPOD_GPU_COUNT: String(p.gpuCount),
          ...Object.fromEntries(parsePorts(p.ports).map(({ port }) => [`RUNPOD_TCP_PORT_${port}`, String(port)])),
        },
        dead,
        binds,
      });
      p.runningAt = Date.now() + bootMs;
    } catch (err) {
      // RunPod keeps a pod whose image cannot start, without a runtime, saying why.
      p.lastStatusChange = `Error: ${(err as Error).message.split('\n')[0]}`;
    }
  };

  type Refusal = { message: string };
  const deploy = (input: Record<string, unknown>, dead: boolean, direct?: { image: string; command: string[] }): DoublePod | Refusal => {
    const type = opts.gpuTypes.find((t) => t.id === input.gpuTypeId);
    if (!type) return { message: `Invalid gpuTypeId: ${String(input.gpuTypeId)}` };
    const imageName = direct?.image ?? input.imageName;
    if (typeof imageName !== 'string' || !imageName) return { message: 'imageName is required' };
    const gpuCount = typeof input.gpuCount === 'number' ? input.gpuCount : 1;
    if (gpuCount < 1 || gpuCount > (type.maxGpuCount ?? 8) || type.stock <= 0) return { message: NO_CAPACITY_MESSAGE };
    const dockerArgs = typeof input.dockerArgs === 'string' ? input.dockerArgs : '';
    const command = direct?.command ?? commandOf(dockerArgs);
    // The double runs no image's own entrypoint: the deploy must say what to run.
    if (!command) return { message: 'dockerArgs is empty: the double needs the command to run' };
    const envList = Array.isArray(input.env) ? (input.env as { key?: unknown; value?: unknown }[]) : [];
    let volume: DoubleVolume | undefined;
    if (typeof input.networkVolumeId === 'string' && input.networkVolumeId) {
      volume = volumes.find((v) => v.id === input.networkVolumeId);
      if (!volume) return { message: `network volume ${input.networkVolumeId} not found` };
      if (typeof input.dataCenterId === 'string' && input.dataCenterId && input.dataCenterId !== volume.dataCenterId)
        return { message: `network volume ${volume.id} is in ${volume.dataCenterId}, not in data center ${input.dataCenterId}` };
    }
    const mountPath = typeof input.volumeMountPath === 'string' && input.volumeMountPath ? input.volumeMountPath : '/workspace';
    type.stock--;
    const p: DoublePod = {
      id: podId(++seq),
      name: typeof input.name === 'string' ? input.name : '',
      type,
      gpuCount,
      imageName,
      dockerArgs,
      ports: typeof input.ports === 'string' ? input.ports : '',
      env: Object.fromEntries(envList.filter((e) => typeof e?.key === 'string').map((e) => [String(e.key), String(e.value ?? '')])),
      containerDiskInGb: typeof input.containerDiskInGb === 'number' ? input.containerDiskInGb : 0,
      desiredStatus: 'RUNNING',
      lastStatusChange: `Rented by User: ${new Date().toUTCString()}`,
      costPerHr: Math.round(type.securePrice * gpuCount * 1000) / 1000,
      runningAt: Number.POSITIVE_INFINITY,
      launching: Promise.resolve(),
      ...(volume ? { networkVolumeId: volume.id } : {}),
    };
    p.launching = launch(p, command, dead, volume ? [{ source: volume.dir, target: mountPath }] : undefined);
    pods.push(p);
    return p;
  };

  const terminate = async (p: DoublePod) => {
    p.desiredStatus = 'TERMINATED';
    p.lastStatusChange = 'Terminated by user';
    p.type.stock++;
    await p.launching;
    await p.instance?.remove();
  };

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  /** An error as RunPod answers it: inside an HTTP 200, the field's data null. */
  const graphqlError = (res: ServerResponse, field: string, message: string) =>
    send(res, 200, { data: { [field]: null }, errors: [{ message, path: [field], extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'POST' || url.pathname !== '/graphql') {
      return send(res, 404, { errors: [{ message: `Cannot ${req.method} ${url.pathname}` }] });
    }
    const auth = req.headers.authorization ?? '';
    let text = '';
    for await (const c of req) text += String(c);
    if (auth !== `Bearer ${apiKey}` && url.searchParams.get('api_key') !== apiKey) {
      requests.push('unauthorized');
      return send(res, 401, { errors: [{ message: 'Unauthorized' }] });
    }
    let body: { query?: unknown; variables?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      return send(res, 400, { errors: [{ message: 'POST body sent invalid JSON.' }] });
    }
    const query = typeof body.query === 'string' ? body.query : '';
    const variables = (body.variables && typeof body.variables === 'object' ? body.variables : {}) as Record<string, unknown>;
    const op = operationOf(query);
    requests.push(op ?? '?');
    if (!op) return send(res, 400, { errors: [{ message: 'Syntax Error: no operation', extensions: { code: 'GRAPHQL_PARSE_FAILED' } }] });

    if (op === 'podFindAndDeployOnDemand') {
      const input = inputOf(query, op, variables);
      if (input) deploys.push(input);
    }
    const f = faults.find((x) => x.match.test(query));
    if (f) {
      f.times = (f.times ?? 1) - 1;
      if (f.times <= 0) faults.splice(faults.indexOf(f), 1);
      if ((f.status ?? 200) === 200) return graphqlError(res, op, f.message);
      return send(res, f.status!, { errors: [{ message: f.message }] });
    }

    const live = (id: unknown) => pods.find((p) => p.id === id && p.desiredStatus !== 'TERMINATED');
    switch (op) {
      case 'gpuTypes':
        return send(res, 200, { data: { gpuTypes: gpuTypes(query, variables) } });
      case 'myself': {
        const mine = /\bpods\b/.test(query) ? await Promise.all(pods.filter((p) => p.desiredStatus !== 'TERMINATED').map(view)) : undefined;
        const nv = /\bnetworkVolumes\b/.test(query)
          ? volumes.map((v) => ({
              id: v.id,
              name: v.name,
              size: v.size,
              dataCenterId: v.dataCenterId,
              dataCenter: { id: v.dataCenterId, name: v.dataCenterId },
            }))
          : undefined;
        return send(res, 200, {
          data: {
            myself: {
              id: 'user_double',
              email: 'double@example.com',
              ...(mine ? { pods: mine } : {}),
              ...(nv ? { networkVolumes: nv } : {}),
            },
          },
        });
      }
      case 'createNetworkVolume': {
        const input = inputOf(query, op, variables);
        if (!input) return graphqlError(res, op, 'input is required (the double reads it from `variables`)');
        const { name, size, dataCenterId } = input;
        if (typeof name !== 'string' || !name) return graphqlError(res, op, 'name is required');
        if (typeof size !== 'number' || !Number.isInteger(size) || size < 1)
          return graphqlError(res, op, 'size must be a whole number of GB, at least 1');
        if (typeof dataCenterId !== 'string' || !dataCenters.includes(dataCenterId))
          return graphqlError(res, op, `Invalid dataCenterId: ${String(dataCenterId)}`);
        volumesDir ??= mkdtempSync(join(tmpdir(), 'runpod-double-volumes-'));
        const v: DoubleVolume = { id: podId(++seq), name, size, dataCenterId, dir: '' };
        v.dir = join(volumesDir, v.id);
        mkdirSync(v.dir, { mode: 0o777 });
        volumes.push(v);
        return send(res, 200, { data: { createNetworkVolume: { id: v.id, name, size, dataCenterId } } });
      }
      case 'deleteNetworkVolume': {
        const id = inputOf(query, op, variables)?.id;
        const v = volumes.find((x) => x.id === id);
        if (!v) return graphqlError(res, op, 'network volume not found');
        const users = pods.filter((p) => p.networkVolumeId === v.id && p.desiredStatus !== 'TERMINATED');
        if (users.length) return graphqlError(res, op, `network volume ${v.id} is in use by pod ${users.map((p) => p.id).join(', ')}`);
        volumes.splice(volumes.indexOf(v), 1);
        rmSync(v.dir, { recursive: true, force: true });
        return send(res, 200, { data: { deleteNetworkVolume: null } });
      }
      case 'pod': {
        const p = live(inputOf(query, 'pod', variables)?.podId);
        return send(res, 200, { data: { pod: p ? await view(p) : null } });
      }
      case 'podFindAndDeployOnDemand': {
        const input = inputOf(query, op, variables);
        if (!input) return graphqlError(res, op, 'input is required (the double reads it from `variables`)');
        const r = deploy(input, deadNext);
        if ('message' in r) return graphqlError(res, op, r.message);
        deadNext = false;
        await r.launching;
        await double.onDeploy?.(r.id);
        return send(res, 200, { data: { [op]: await view(r) } });
      }
      case 'podTerminate': {
        const p = live(inputOf(query, op, variables)?.podId);
        if (!p) return graphqlError(res, op, 'pod not found to terminate');
        await terminate(p);
        return send(res, 200, { data: { podTerminate: null } });
      }
      case 'podStop': {
        const p = live(inputOf(query, op, variables)?.podId);
        if (!p) return graphqlError(res, op, 'pod not found to stop');
        await p.launching;
        await p.instance?.stop();
        p.desiredStatus = 'EXITED';
        p.lastStatusChange = 'Exited by user';
        return send(res, 200, { data: { podStop: { id: p.id, desiredStatus: p.desiredStatus } } });
      }
      default:
        return send(res, 400, {
          errors: [{ message: `Cannot query field "${op}" on type "Query".`, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }],
        });
    }
  };

  const server = createServer((req, res) => {
    const go = () =>
      handle(req, res).catch((err: Error) => {
        if (!res.headersSent) send(res, 500, { errors: [{ message: err.message }] });
      });
    if (opts.latencyMs) setTimeout(go, opts.latencyMs);
    else void go();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;

  const double: RunpodDouble = {
    url: `http://127.0.0.1:${port}/graphql`,
    apiKey,
    gpuTypes: opts.gpuTypes,
    requests,
    deploys,
    pods: () => pods.map((p) => ({ id: p.id, name: p.name, desiredStatus: p.desiredStatus, containerId: p.instance?.containerId })),
    networkVolumes: () => volumes.map((v) => ({ ...v })),
    fault: (f) => faults.push(f),
    deadNext: () => {
      deadNext = true;
    },
    deployDirect: (name, spec) => {
      const t = opts.gpuTypes[0];
      const r = deploy({ gpuTypeId: t.id, gpuCount: 1, name, ports: '22/tcp' }, false, {
        image: spec?.image ?? BUSYBOX_IMAGE,
        command: spec?.command ?? ['/bin/sh', '-c', 'sleep 86400'],
      });
      if ('message' in r) throw new Error(r.message);
      return r.id;
    },
    close: () =>
      new Promise<void>((r) => {
        clearInterval(watcher);
        if (volumesDir) rmSync(volumesDir, { recursive: true, force: true });
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
  return double;
}
