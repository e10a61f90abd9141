// RunPod's GraphQL API, as documented at https://docs.runpod.io/sdks/graphql/manage-pods and in the
// schema reference https://graphql-spec.runpod.io/ (one endpoint, https://api.runpod.io/graphql,
// `Authorization: Bearer <key>`). Only what the backend uses; field names are the API's own, and
// every field asked for is one RunPod's own clients ask for (dstack's runpod/api_client.py, gpuhunt's
// providers/runpod.py): an unknown field fails the whole request.
//
// Errors: a bad key answers HTTP 401. Everything else answers HTTP 200 with
// `{"errors": [{"message", "path"?, "extensions"?}], "data": ...}` (dstack's api_client: "RunPod
// returns 200 on client errors"): no capacity is "There are no longer any instances available with
// the requested specifications. Please refresh and try again.", an unknown pod is "pod not found to
// terminate" (dstack's compute.py matches that message). 429 when hurried, 5xx when down.
import { ApiClient, type HttpAnswer } from '../cloud/http-client';
import { cloudError, type CloudErrorKind } from '../cloud/cloud-error';

export const RUNPOD_API_URL = 'https://api.runpod.io/graphql';

/** `lowestPrice(input: {gpuCount: N})`: the cheapest placement for N GPUs of the type now. */
export interface RunpodLowestPrice {
  /** On-demand price per GPU and hour; null when none can be placed. */
  uninterruptablePrice: number | null;
  minimumBidPrice?: number | null;
  /** The pod's vCPUs and RAM (GB) at that GPU count (gpuhunt takes them as the pod's). */
  minVcpu: number | null;
  minMemory: number | null;
  /** "High", "Medium", "Low"; null when out of stock. */
  stockStatus: string | null;
}

export interface RunpodGpuType {
  /** "NVIDIA GeForce RTX 4090": what gpuTypeId takes. */
  id: string;
  /** "RTX 4090" */
  displayName: string;
  /** "Nvidia", "AMD" */
  manufacturer: string;
  memoryInGb: number;
  maxGpuCount: number;
  secureCloud: boolean;
  communityCloud: boolean;
  /** Per GPU and hour, on-demand. */
  securePrice: number | null;
  communityPrice: number | null;
  /** Keyed by the alias the query gave each count: `lp1`, `lp2`, `lp4`, `lp8`. */
  [alias: `lp${number}`]: RunpodLowestPrice | null | undefined;
}

export type RunpodPodStatus = 'CREATED' | 'RUNNING' | 'RESTARTING' | 'EXITED' | 'PAUSED' | 'DEAD' | 'TERMINATED';

export interface RunpodPort {
  ip: string;
  isIpPublic: boolean;
  privatePort: number;
  publicPort: number;
  /** "tcp", "http" */
  type: string;
}

export interface RunpodPod {
  id: string;
  name: string;
  desiredStatus: RunpodPodStatus;
  imageName: string;
  costPerHr: number;
  gpuCount: number;
  /** "Rented by User: ...", "Exited by user", "Exited with code 1" */
  lastStatusChange: string | null;
  machine: { gpuDisplayName: string | null } | null;
  /** Null until the container runs (pulling, starting) and after it stops. */
  runtime: { uptimeInSeconds: number; ports: RunpodPort[] | null } | null;
}

export type RunpodCloudType = 'ALL' | 'SECURE' | 'COMMUNITY';

/** PodFindAndDeployOnDemandInput, as much of it as the backend sets. */
export interface RunpodDeployInput {
  cloudType: RunpodCloudType;
  gpuTypeId: string;
  gpuCount: number;
  name: string;
  imageName: string;
  /** The container's command: JSON `{"cmd": [...], "entrypoint": [...]}` (as dstack passes it). */
  dockerArgs: string;
  /** "10022/tcp" */
  ports: string;
  volumeInGb: number;
  containerDiskInGb: number;
  env: { key: string; value: string }[];
  supportPublicIp: boolean;
  dataCenterId?: string;
  minVcpuCount?: number;
  minMemoryInGb?: number;
  startSsh?: boolean;
  /** A network volume of the same data center (dataCenterId), mounted at volumeMountPath. */
  networkVolumeId?: string;
  /** Where the pod's volume is mounted in the container (RunPod's default: /workspace). */
  volumeMountPath?: string;
}

/**
 * A network volume as `myself { networkVolumes { ... } }` lists it (RunPod's GraphQL spec,
 * https://graphql-spec.runpod.io/, type NetworkVolume; the fields dstack's runpod/api_client.py reads).
 */
export interface RunpodNetworkVolume {
  id: string;
  name: string;
  /** GB. */
  size: number;
  dataCenterId: string;
}

export interface RunpodGraphqlError {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string };
}

export interface RunpodAnswer<T> {
  data?: T | null;
  errors?: RunpodGraphqlError[];
}

/** The GPU counts asked for, each under its alias `lp<N>`. */
export const RUNPOD_GPU_COUNTS = [1, 2, 4, 8] as const;

const POD_FIELDS = `id name desiredStatus imageName costPerHr gpuCount lastStatusChange
  machine { gpuDisplayName }
  runtime { uptimeInSeconds ports { ip isIpPublic privatePort publicPort type } }`;

const LOWEST_PRICE_FIELDS = 'uninterruptablePrice minimumBidPrice minVcpu minMemory stockStatus';

const GPU_TYPES_QUERY = `query GpuTypes(${RUNPOD_GPU_COUNTS.map((n) => `$lp${n}: GpuLowestPriceInput`).join(', ')}) {
  gpuTypes {
    id displayName manufacturer memoryInGb maxGpuCount secureCloud communityCloud securePrice communityPrice
    ${RUNPOD_GPU_COUNTS.map((n) => `lp${n}: lowestPrice(input: $lp${n}) { ${LOWEST_PRICE_FIELDS} }`).join('\n    ')}
  }
}`;

function kindOf(status: number, messages: string, codes: string): CloudErrorKind {
  if (status === 401 || status === 403 || /UNAUTHENTICATED|FORBIDDEN/.test(codes)) return 'credentials';
  if (/unauthori[sz]ed|invalid api key|api key (is )?(invalid|expired)/i.test(messages)) return 'credentials';
  if (
    /no longer any instances available|no instances (are )?available|not enough (free )?gpus|insufficient capacity|does not have the resources/i.test(
      messages,
    )
  ) {
    return 'no-capacity';
  }
  if (/balance|insufficient funds|not enough credit|spend limit|quota|maximum number of/i.test(messages)) return 'quota';
  if (status === 404 || /not found|does not exist/i.test(messages)) return 'not-found';
  if (status === 429 || status >= 500 || /rate limit|too many requests|something went wrong|internal server error/i.test(messages)) {
    return 'provider-down';
  }
  return 'bad-request';
}

/** The provider's error from an answer (errors inside an HTTP 200 included), or undefined for a success. */
export function classifyRunpod(a: HttpAnswer): Error | undefined {
  const body = a.body as RunpodAnswer<unknown> | string | undefined;
  const errors = body && typeof body === 'object' && Array.isArray(body.errors) ? body.errors : [];
  const ok = a.status >= 200 && a.status < 300;
  if (ok && errors.length === 0) return undefined;
  const messages = errors.map((e) => `${e.message}${e.path?.length ? ` (${e.path.join('.')})` : ''}`).join('; ');
  const codes = errors.map((e) => e.extensions?.code ?? '').join(' ');
  const message = messages || `HTTP ${a.status} ${(typeof body === 'string' ? body : JSON.stringify(body ?? '')).slice(0, 200)}`;
  return cloudError('runpod', kindOf(ok ? 200 : a.status, message, codes), message, a.status);
}

export class RunpodApi {
  private readonly http: ApiClient;
  private readonly path: string;

  constructor(apiKey: string, url = RUNPOD_API_URL, timeoutMs = 20_000) {
    // The endpoint is one path (…/graphql); ApiClient takes a base and a path under it.
    const u = new URL(url);
    const cut = u.pathname.lastIndexOf('/');
    this.path = u.pathname.slice(cut + 1);
    u.pathname = u.pathname.slice(0, cut + 1);
    this.http = new ApiClient({
      provider: 'runpod',
      baseUrl: u.toString(),
      timeoutMs,
      headers: () => ({ Authorization: `Bearer ${apiKey}` }),
      classify: classifyRunpod,
      unreachable: (m) => cloudError('runpod', 'provider-down', m),
    });
  }

  /**
   * One GraphQL operation, always a POST: a query (idempotent) is retried on 5xx and timeouts too, a
   * mutation that makes something only when RunPod surely did not act (429, a refused connection).
   */
  private async graphql<T>(query: string, variables: Record<string, unknown>, opts: { idempotent: boolean; timeoutMs?: number }) {
    const answer = await this.http.request<RunpodAnswer<T>>('POST', this.path, { body: { query, variables }, ...opts });
    if (!answer?.data) throw cloudError('runpod', 'provider-down', 'the answer carried no data');
    return answer.data;
  }

  /** Every GPU type, with the lowest on-demand price for 1, 2, 4 and 8 of it (`lp1` … `lp8`). */
  async gpuTypes(cloudType: RunpodCloudType = 'ALL'): Promise<RunpodGpuType[]> {
    const secure = cloudType === 'ALL' ? {} : { secureCloud: cloudType === 'SECURE' };
    const variables = Object.fromEntries(RUNPOD_GPU_COUNTS.map((n) => [`lp${n}`, { gpuCount: n, ...secure }]));
    return (await this.graphql<{ gpuTypes: RunpodGpuType[] }>(GPU_TYPES_QUERY, variables, { idempotent: true })).gpuTypes ?? [];
  }

  /** The account's id: the cheapest call that needs a good key. */
  async myselfId(): Promise<string> {
    return (await this.graphql<{ myself: { id: string } }>('query Myself { myself { id } }', {}, { idempotent: true })).myself.id;
  }

  async pods(): Promise<RunpodPod[]> {
    return (
      (await this.graphql<{ myself: { pods: RunpodPod[] } }>(`query Pods { myself { pods { ${POD_FIELDS} } } }`, {}, { idempotent: true }))
        .myself.pods ?? []
    );
  }

  /** The pod, or null when RunPod does not know it (any more). */
  async pod(podId: string): Promise<RunpodPod | null> {
    const q = `query Pod($input: PodFilter!) { pod(input: $input) { ${POD_FIELDS} } }`;
    return (await this.graphql<{ pod: RunpodPod | null }>(q, { input: { podId } }, { idempotent: true })).pod ?? null;
  }

  async deploy(input: RunpodDeployInput): Promise<RunpodPod> {
    const q = `mutation Deploy($input: PodFindAndDeployOnDemandInput) { podFindAndDeployOnDemand(input: $input) { ${POD_FIELDS} } }`;
    // RunPod finds a machine before it answers: slower than a read.
    const pod = (await this.graphql<{ podFindAndDeployOnDemand: RunpodPod | null }>(q, { input }, { idempotent: false, timeoutMs: 60_000 }))
      .podFindAndDeployOnDemand;
    if (!pod?.id) throw cloudError('runpod', 'provider-down', 'the deploy answered no pod');
    return pod;
  }

  async terminate(podId: string): Promise<void> {
    // podTerminate returns nothing (Void): `data: {podTerminate: null}`. Terminating twice is
    // harmless (the second answers "pod not found to terminate"), so a lost answer may be asked again.
    const q = 'mutation Terminate($input: PodTerminateInput!) { podTerminate(input: $input) }';
    await this.http.request<RunpodAnswer<unknown>>('POST', this.path, {
      body: { query: q, variables: { input: { podId } } },
      idempotent: true,
    });
  }

  async networkVolumes(): Promise<RunpodNetworkVolume[]> {
    const q = 'query NetworkVolumes { myself { networkVolumes { id name size dataCenterId } } }';
    return (
      (await this.graphql<{ myself: { networkVolumes: RunpodNetworkVolume[] | null } }>(q, {}, { idempotent: true })).myself
        .networkVolumes ?? []
    );
  }

  /** createNetworkVolume(input: {name, size, dataCenterId}), as dstack's create_network_volume asks. */
  async createNetworkVolume(input: { name: string; size: number; dataCenterId: string }): Promise<RunpodNetworkVolume> {
    const q =
      'mutation CreateNetworkVolume($input: CreateNetworkVolumeInput!) { createNetworkVolume(input: $input) { id name size dataCenterId } }';
    const v = (await this.graphql<{ createNetworkVolume: RunpodNetworkVolume | null }>(q, { input }, { idempotent: false }))
      .createNetworkVolume;
    if (!v?.id) throw cloudError('runpod', 'provider-down', 'createNetworkVolume answered no volume');
    return v;
  }

  /** deleteNetworkVolume(input: {id}): returns nothing. */
  async deleteNetworkVolume(id: string): Promise<void> {
    const q = 'mutation DeleteNetworkVolume($input: DeleteNetworkVolumeInput!) { deleteNetworkVolume(input: $input) }';
    await this.http.request<RunpodAnswer<unknown>>('POST', this.path, {
      body: { query: q, variables: { input: { id } } },
      idempotent: true,
    });
  }

  async stop(podId: string): Promise<{ id: string; desiredStatus: RunpodPodStatus }> {
    // Stopping twice is harmless too.
    const q = 'mutation Stop($input: PodStopInput!) { podStop(input: $input) { id desiredStatus } }';
    return (await this.graphql<{ podStop: { id: string; desiredStatus: RunpodPodStatus } }>(q, { input: { podId } }, { idempotent: true }))
      .podStop;
  }
}
