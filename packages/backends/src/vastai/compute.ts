// Vast.ai as a Compute: a marketplace of single machines ("asks"), each rented whole, whose instance
// is a container of the run's own image. The container runs the bootstrap (sshd for the daemon's
// key) as its command, as dstack's Vast.ai backend does (runtype "args", onstart "/bin/sh", args
// ["-c", script]), with the SSH port published as `-p 10022:10022` in `env`; Vast.ai maps it to a
// public port of the host, read back from the instance's `ports`. SSH as root.
//
// Offers come from one live search (POST /bundles/, the 1,000 cheapest verified, rentable, unrented
// machines with a direct port), each machine twice, as dstack's catalog (gpuhunt's Vast.ai provider)
// does: on demand at `dph_total`, and interruptible (Vast.ai's bid instances) at `min_bid`, rented with
// that bid as `price`. The instance type is the offer's id.
import type { Offer } from '@dstack/core/gen/daemon';
import { dstackGpuName } from '../gpu-short-names';
import { isCloudError } from '../cloud/cloud-error';
import type { CloudInstance, Compute, CreateRequest } from '../cloud/compute';
import { CONTAINER_SSH_PORT } from '../cloud/container-bootstrap';
import type { VastaiApi, VastaiCreateRequest, VastaiInstance, VastaiOffer, VastaiSearchQuery } from './api';

/** Offers kept from one search: the cheapest, as Vast.ai orders them. */
export const VASTAI_MAX_OFFERS = 1000;

/**
 * The search: Vast CLI's defaults (verified, not external, rentable, not rented) plus what dstack asks
 * of a machine (src/dstack/_internal/core/backends/vastai/compute.py: a direct port to publish sshd on,
 * reliability of at least 0.9), cheapest first.
 */
export const VASTAI_OFFER_QUERY: VastaiSearchQuery = {
  verified: { eq: true },
  external: { eq: false },
  rentable: { eq: true },
  rented: { eq: false },
  direct_port_count: { gte: 1 },
  reliability2: { gte: 0.9 },
  num_gpus: { gte: 1 },
  type: 'on-demand',
  order: [['dph_total', 'asc']],
  limit: VASTAI_MAX_OFFERS,
};

/**
 * A region from an offer's geolocation ("Washington, US", "Quebec, CA"): the country code first, then
 * the place, lower case, no spaces ("us-washington"), as dstack's catalog names Vast.ai's locations
 * (gpuhunt providers/vastai.py get_location); a bare country ("US") stays as it is, lower case.
 */
export function vastaiRegion(geolocation: string | null | undefined): string {
  if (!geolocation) return '';
  const parts = geolocation
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const words = parts.length >= 2 ? [parts[parts.length - 1], ...parts.slice(0, -1)] : parts;
  return words.join('-').toLowerCase().replace(/\s+/g, '');
}

/** dstack's GPU name for Vast.ai's ("RTX 4090" → RTX4090, "H100 SXM" → H100, "RTX A6000" → A6000). */
export function vastaiGpuName(gpuName: string, arch = 'nvidia'): string {
  return dstackGpuName(arch === 'amd' ? 'amd' : 'nvidia', gpuName);
}

export function vastaiOffers(offers: VastaiOffer[]): Offer[] {
  const out: Offer[] = [];
  for (const o of offers.slice(0, VASTAI_MAX_OFFERS)) {
    const vendor = o.gpu_arch === 'amd' ? 'amd' : 'nvidia';
    // cpu_ram is the machine's; the offer gets the share of its cores (gpuhunt does the same).
    const ramMb = o.cpu_cores ? (o.cpu_ram * o.cpu_cores_effective) / o.cpu_cores : o.cpu_ram;
    const resources = (spot: boolean) => ({
      cpus: Math.floor(o.cpu_cores_effective),
      cpuArch: /arm|aarch/i.test(o.cpu_arch ?? '') ? 'arm' : 'x86',
      memoryGb: Math.floor(ramMb / 1000),
      diskGb: Math.floor(o.disk_space),
      gpus:
        o.num_gpus > 0
          ? [{ vendor, name: vastaiGpuName(o.gpu_name, vendor), memoryGb: Math.round(o.gpu_ram / 1024), count: o.num_gpus }]
          : [],
      spot,
    });
    const base = { backend: 'vastai', region: vastaiRegion(o.geolocation), instanceType: String(o.id), availability: 'available' };
    out.push({ ...base, resources: resources(false), spot: false, price: o.dph_total, instanceName: '', fleet: '' });
    if (o.min_bid > 0) out.push({ ...base, resources: resources(true), spot: true, price: o.min_bid, instanceName: '', fleet: '' });
  }
  return out;
}

/** The host's answer when the container could not be made (dstack fails the same status_msg). */
const START_FAILED = /OCI runtime create failed|Error response from daemon/i;

/**
 * Vast.ai's instance in the words of every backend. actual_status null/loading/created/rebooting →
 * pending; running → running, reachable once `ports` maps the SSH port; exited/stopped/frozen →
 * stopped, with status_msg; offline (the host left) and destroyed → terminated; created with the host's
 * docker error → failed; unknown (no heartbeat) → pending, not to be used until it answers again.
 *
 * Interrupted: Vast.ai pauses an interruptible instance when a higher bid (or an on-demand rental)
 * takes its machine; its owner still wants it running (intended_status "running") while its contract
 * no longer holds the machine (cur_state "stopped"), or its status_msg says it was outbid. Vast.ai
 * documents those fields' meanings (docs.vast.ai, show instance) but no example of an outbid
 * instance: this rule is read from them, and a bid instance whose own program ended (cur_state still
 * "running") is a plain stop, not an interruption.
 */
export function vastaiInstance(i: VastaiInstance, sshPort = CONTAINER_SSH_PORT): CloudInstance {
  const actual = i.actual_status ?? '';
  const msg = (i.status_msg ?? '').trim();
  const hostPort = Number(i.ports?.[`${sshPort}/tcp`]?.[0]?.HostPort);
  const interrupted =
    !!i.is_bid &&
    (actual === 'exited' || actual === 'stopped') &&
    i.intended_status === 'running' &&
    (i.cur_state === 'stopped' || /outbid/i.test(msg));
  let state: CloudInstance['state'];
  switch (actual) {
    case 'running':
      state = 'running';
      break;
    case 'exited':
    case 'stopped':
    case 'frozen':
      state = 'stopped';
      break;
    case 'offline':
    case 'destroyed':
      state = 'terminated';
      break;
    case 'created':
      state = START_FAILED.test(msg) || (i.cur_state === 'stopped' && i.intended_status === 'stopped') ? 'failed' : 'pending';
      break;
    default:
      state = 'pending';
  }
  const reachable = state === 'running' && Number.isInteger(hostPort) && hostPort > 0;
  return {
    id: String(i.id),
    name: i.label ?? '',
    state,
    providerState: actual || 'provisioning',
    ip: reachable ? (i.public_ipaddr ?? '').trim() : '',
    sshPort: reachable ? hostPort : sshPort,
    sshUser: 'root',
    region: vastaiRegion(i.geolocation),
    ...(i.start_date ? { createdMs: Math.round(i.start_date * 1000) } : {}),
    ...(msg && state !== 'running' ? { statusMessage: msg } : {}),
    ...(interrupted ? { interrupted: true } : {}),
  };
}

export class VastaiCompute implements Compute {
  readonly containers = true;
  /** The SSH port each instance made here was asked to publish (others: the default). */
  private readonly sshPorts = new Map<string, number>();

  constructor(
    private readonly api: VastaiApi,
    private readonly sshPort = CONTAINER_SSH_PORT,
  ) {}

  async offers(): Promise<Offer[]> {
    return vastaiOffers(await this.api.searchOffers(VASTAI_OFFER_QUERY));
  }

  async create(req: CreateRequest): Promise<string> {
    const c = req.container;
    if (!c) throw new Error('vastai: an instance is a container; the request has no container to run');
    const [program, ...args] = c.command;
    if (!program) throw new Error('vastai: the container has no command');
    const body: VastaiCreateRequest = {
      client_id: 'me',
      image: c.image,
      disk: Math.ceil(c.diskGb),
      label: req.name,
      env: { ...c.env, [`-p ${c.sshPort}:${c.sshPort}`]: '1' },
      // As dstack's api_client.py: the program as `onstart`, its arguments as `args`.
      runtype: 'args',
      onstart: program,
      args,
      user: 'root',
      // A machine that cannot start the instance now answers no_such_ask instead of queueing it.
      cancel_unavail: true,
      image_login: null,
      python_utf8: false,
      lang_utf8: false,
      use_jupyter_lab: false,
      jupyter_dir: null,
      force: false,
      ...(req.offer.spot ? { price: req.offer.price } : {}),
    };
    const res = await this.api.createInstance(req.offer.instanceType, body);
    if (res.new_contract === undefined || res.new_contract === null) throw new Error('vastai: the create answered no instance id');
    const id = String(res.new_contract);
    this.sshPorts.set(id, c.sshPort);
    return id;
  }

  async get(id: string): Promise<CloudInstance | null> {
    try {
      const i = await this.api.instance(id);
      return i ? vastaiInstance(i, this.sshPorts.get(id) ?? this.sshPort) : null;
    } catch (err) {
      if (isCloudError(err, 'not-found')) return null;
      throw err;
    }
  }

  async list(): Promise<CloudInstance[]> {
    return (await this.api.instances()).map((i) => vastaiInstance(i, this.sshPorts.get(String(i.id)) ?? this.sshPort));
  }

  async terminate(id: string): Promise<void> {
    try {
      await this.api.destroyInstance(id);
    } catch (err) {
      if (!isCloudError(err, 'not-found')) throw err;
    }
    this.sshPorts.delete(id);
  }

  async check(): Promise<void> {
    await this.api.currentUser();
  }
}
