// A TEST DOUBLE of the Vast.ai REST API (https://docs.vast.ai/api-reference, the OpenAPI file
// api-reference/openapi.yaml of github.com/vast-ai/docs; the request and response shapes of
// packages/backends/src/vastai/api.ts), for tests only: no Vast.ai endpoint can be reached here. It
// follows the documented routes under /api/v0 (POST /bundles/ and GET /bundles/?q= to search offers,
// PUT /asks/{offer}/ to rent one, GET /instances/, GET /instances/{id}/, DELETE /instances/{id}/, GET
// /users/current/) and GET /api/v1/instances/ (the paged list Vast's CLI reads, 25 a page); Bearer
// auth (or `?api_key=`, as older clients send it); the documented error body `{"success": false,
// "error", "msg"}` with its statuses (401 for a bad key; 404 `error 404/3603: no_such_ask Instance type
// by id N is not available.` for an offer that is gone or rented; 400 `invalid_args` and
// `invalid_price`; 404 `no_such_instance` from DELETE of an unknown id; `{"instances": null}` from GET
// of one); and 429 `{"detail": "API requests too frequent endpoint threshold=N"}` when an endpoint is
// called more than `rateLimit.perSecond` times a second, as Vast.ai limits each endpoint. Words the docs
// do not give (the 401's message, an outbid instance's status_msg) are the double's own.
//
// Its instances are REAL: renting an offer launches a container of the test engine, in its own
// network namespace at its own address (test/clouds/container-instances.ts), running the image with
// the command the request gave (runtype "args": `onstart` or `entrypoint` as the program, `args` its
// arguments, as dstack sends them; other runtypes: `onstart` under /bin/sh -c) and the request's
// environment (the `env` entries that are not `-p` port flags). It shows `loading` for `bootMs`, then
// `running` with public_ipaddr = the container's address and each `-p` port in `ports` as
// {"<port>/tcp": [{"HostIp": "0.0.0.0", "HostPort": "<port>"}]} (the container has its own address, so
// the public port is the private one; Vast.ai itself maps to a random public port, which is why
// clients read `ports`); `exited` once the container has ended. A container the engine cannot start
// shows as Vast.ai shows a host's failed create: actual_status "created", cur_state and
// intended_status "stopped", the engine's words in status_msg. DELETE removes the container; the
// instance leaves both lists and GET answers `{"instances": null}`. A rented offer is not listed
// (rented) and renting it again answers no_such_ask, until the instance on it is destroyed.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ContainerInstance, ContainerInstances } from './container-instances';

/** A machine for rent, with Vast.ai's offer fields (MB for RAM, GB for disk, $/h). */
export interface DoubleOffer {
  id: number;
  gpu_name: string;
  num_gpus: number;
  /** MB per GPU. */
  gpu_ram: number;
  cpu_cores_effective: number;
  /** The machine's cores (default: cpu_cores_effective). */
  cpu_cores?: number;
  /** The machine's RAM in MB. */
  cpu_ram: number;
  /** GB. */
  disk_space: number;
  dph_total: number;
  min_bid: number;
  /** "Washington, US". */
  geolocation: string;
  gpu_arch?: string;
  cpu_arch?: string;
  verified?: boolean;
  reliability2?: number;
  direct_port_count?: number;
}

interface DoubleInstance {
  id: number;
  label: string | null;
  offer: DoubleOffer;
  isBid: boolean;
  price: number;
  image: string;
  runtype: string;
  onstart: string | null;
  args: string[];
  env: Record<string, string>;
  ports: number[];
  startedAt: number;
  /** When it shows running (bootMs after its container was made). */
  runningAt: number;
  dead: boolean;
  /** The container, once launched. */
  container?: ContainerInstance;
  launching?: Promise<void>;
  /** The engine's words when the container could not be made. */
  launchError?: string;
  outbid: boolean;
  destroyed: boolean;
  /** The container's state when last looked at: `listed()` answers from it. */
  last: { state: 'running' | 'exited' | 'gone'; exitCode: number };
}

export interface VastaiFault {
  method?: string;
  /** Tested against the request's path as `requests` records it ("/asks/12/", "/instances/7/"). */
  path: RegExp;
  status: number;
  /** The answer's JSON body, e.g. `{ success: false, error: 'no_such_ask', msg: '...' }`. */
  body: unknown;
  /** How many requests it answers (default 1). */
  times?: number;
}

export interface VastaiDouble {
  /** The API base (`api_url:`), http://127.0.0.1:PORT/api/v0. */
  url: string;
  apiKey: string;
  /** Requests seen, "METHOD /path" (path below /api/v0, query left off; v1 as "/api/v1/..."). */
  requests: string[];
  /** The instances GET /instances/ lists now (destroyed ones are gone), ids as strings. */
  listed(): { id: string; label: string; actual_status: string; containerId?: string }[];
  fault(f: VastaiFault): void;
  /** The next rented instance's container never gets a network (its sshd never answers). */
  deadNext(): void;
  /** An interruptible instance loses its machine to a higher bid: its container stops, it shows exited. */
  outbid(id: string): Promise<void>;
  /** Called on each create, after the instance exists and before the answer is sent. */
  onCreate?: (id: string) => void | Promise<void>;
  /** An instance made by another client of the account (on the first free offer); its id. */
  createDirect(label: string): string;
  close(): Promise<void>;
}

const OUTBID_MSG = 'Instance stopped: outbid, a higher bid took the machine';

export async function startVastaiDouble(opts: {
  instances: ContainerInstances;
  offers: DoubleOffer[];
  apiKey?: string;
  bootMs?: number;
  /** Added to every answer: a provider's round trip (benches). */
  latencyMs?: number;
  /** More calls than this to one endpoint within a second answer 429. */
  rateLimit?: { perSecond: number };
  /** GET /api/v0/instances/ answers 410, as for accounts made after v0's list was deprecated. */
  v0ListDeprecated?: boolean;
  /** What createDirect runs. */
  directImage?: string;
}): Promise<VastaiDouble> {
  const apiKey = opts.apiKey ?? Math.random().toString(16).slice(2).padEnd(64, 'a');
  const bootMs = opts.bootMs ?? 1500;
  const instances: DoubleInstance[] = [];
  const faults: VastaiFault[] = [];
  const requests: string[] = [];
  const calls = new Map<string, number[]>();
  let deadNext = false;
  let seq = 9_000_000;

  const rentedBy = (o: DoubleOffer) => instances.find((i) => i.offer === o && !i.destroyed);
  const offerView = (o: DoubleOffer) => ({
    ask_contract_id: o.id,
    machine_id: o.id + 100_000,
    gpu_arch: 'nvidia',
    cpu_arch: 'amd64',
    verified: true,
    verification: 'verified',
    external: false,
    rentable: true,
    reliability2: 0.995,
    direct_port_count: 100,
    gpu_total_ram: o.gpu_ram * o.num_gpus,
    dph_base: o.dph_total,
    storage_cost: 0.1,
    ...o,
    cpu_cores: o.cpu_cores ?? o.cpu_cores_effective,
    rented: !!rentedBy(o),
  });

  const view = async (i: DoubleInstance) => {
    let actual: string;
    let cur = 'running';
    let intended = 'running';
    let msg: string | null = null;
    if (i.launchError) {
      actual = 'created';
      cur = 'stopped';
      intended = 'stopped';
      msg = i.launchError;
    } else if (i.outbid) {
      actual = 'exited';
      cur = 'stopped';
      msg = OUTBID_MSG;
    } else if (!i.container || Date.now() < i.runningAt) {
      actual = 'loading';
      msg = `Pulling ${i.image}`;
    } else {
      i.last = await i.container.state();
      actual = i.last.state === 'running' ? 'running' : i.last.state === 'exited' ? 'exited' : 'offline';
      msg = i.last.state === 'running' ? `success, running ${i.image}` : `Exited (${i.last.exitCode})`;
    }
    const up = actual === 'running';
    return {
      id: i.id,
      label: i.label,
      actual_status: actual,
      intended_status: intended,
      cur_state: cur,
      next_state: cur,
      status_msg: msg,
      image_uuid: i.image,
      image_runtype: i.runtype,
      image_args: i.args,
      onstart: i.onstart,
      extra_env: Object.entries(i.env),
      public_ipaddr: i.container?.ip ?? null,
      ports: up ? Object.fromEntries(i.ports.map((p) => [`${p}/tcp`, [{ HostIp: '0.0.0.0', HostPort: String(p) }]])) : {},
      ssh_host: i.container?.ip ?? null,
      ssh_port: i.ports[0] ?? null,
      machine_id: i.offer.id + 100_000,
      bundle_id: i.offer.id,
      start_date: i.startedAt / 1000,
      dph_total: i.isBid ? i.price : i.offer.dph_total,
      is_bid: i.isBid,
      min_bid: i.offer.min_bid,
      gpu_name: i.offer.gpu_name,
      num_gpus: i.offer.num_gpus,
      gpu_ram: i.offer.gpu_ram,
      cpu_cores_effective: i.offer.cpu_cores_effective,
      cpu_ram: i.offer.cpu_ram,
      disk_space: i.offer.disk_space,
      geolocation: i.offer.geolocation,
    };
  };

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const error = (res: ServerResponse, status: number, code: string, msg: string, extra: Record<string, unknown> = {}) =>
    send(res, status, { success: false, error: code, msg, ...extra });

  const readBody = async (req: IncomingMessage): Promise<Record<string, unknown> | undefined> => {
    let text = '';
    for await (const c of req) text += String(c);
    try {
      const v = text ? JSON.parse(text) : {};
      return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };

  /** A search query's conditions on the offer fields it names; other keys (type, order, ...) aside. */
  const matches = (o: Record<string, unknown>, q: Record<string, unknown>) =>
    Object.entries(q).every(([field, cond]) => {
      if (!cond || typeof cond !== 'object' || Array.isArray(cond) || !(field in o)) return true;
      const v = o[field] as never;
      return Object.entries(cond as Record<string, unknown>).every(([op, want]) => {
        switch (op) {
          case 'eq':
            return v === want;
          case 'neq':
            return v !== want;
          case 'gt':
            return v > (want as never);
          case 'gte':
            return v >= (want as never);
          case 'lt':
            return v < (want as never);
          case 'lte':
            return v <= (want as never);
          case 'in':
            return Array.isArray(want) && want.includes(v);
          case 'notin':
            return Array.isArray(want) && !want.includes(v);
          default:
            return true;
        }
      });
    });

  const search = (q: Record<string, unknown>) => {
    let rows = opts.offers.map(offerView).filter((o) => matches(o, { rented: { eq: false }, ...q }));
    const order = Array.isArray(q.order) ? (q.order as [string, string][]) : [['score', 'desc']];
    for (const [field, dir] of [...order].reverse()) {
      const sign = dir === 'desc' ? -1 : 1;
      rows = rows.sort((a, b) => sign * (Number((a as never)[field] ?? 0) - Number((b as never)[field] ?? 0)));
    }
    // Vast.ai's default page is 64 offers.
    return rows.slice(0, typeof q.limit === 'number' ? q.limit : 64);
  };

  /** `env` as an object (`{"-p 22:22": "1", "NAME": "v"}`) or in Docker's flag format (`"-e NAME=v -p 22:22"`). */
  const parseEnv = (env: unknown): { vars: Record<string, string>; ports: number[] } => {
    const vars: Record<string, string> = {};
    const ports: number[] = [];
    const flag = (f: string) => {
      const p = /^-p\s+(?:\d+:)?(\d+)(?:\/tcp)?$/.exec(f.trim());
      if (p) ports.push(Number(p[1]));
      const e = /^-e\s+([^=\s]+)=(.*)$/.exec(f.trim());
      if (e) vars[e[1]] = e[2];
    };
    if (typeof env === 'string') {
      for (const m of env.matchAll(/(-[ep])\s+(\S+)/g)) flag(`${m[1]} ${m[2]}`);
    } else if (env && typeof env === 'object') {
      for (const [k, v] of Object.entries(env as Record<string, unknown>)) {
        if (k.startsWith('-')) flag(k);
        else vars[k] = String(v);
      }
    }
    return { vars, ports };
  };

  const launch = (i: DoubleInstance, command: string[]) => {
    i.launching = opts.instances
      .launch({ name: `vastai-${i.id}-${Math.random().toString(36).slice(2, 6)}`, image: i.image, command, env: i.env, dead: i.dead })
      .then((c) => {
        i.container = c;
        // `loading` for bootMs from the moment the container exists.
        i.runningAt = Date.now() + bootMs;
      })
      .catch((err: Error) => {
        // The engine's own words, without the command line the harness puts before them.
        const words = err.message
          .replace(/^[\s\S]*? exited \S+: /, '')
          .replace(/\s+/g, ' ')
          .trim();
        i.launchError = `Error response from daemon: ${words || err.message}`;
      });
    return i.launching;
  };

  const create = async (res: ServerResponse, askId: string, b: Record<string, unknown> | undefined) => {
    if (!b) return error(res, 400, 'invalid_args', 'Invalid json body');
    if (!/^\d+$/.test(askId))
      return error(res, 400, 'invalid_args', "error 400/3467: Invalid args: 'id' is required and must be a valid offer ID");
    const offer = opts.offers.find((o) => String(o.id) === askId);
    if (!offer || rentedBy(offer)) {
      return error(res, 404, 'invalid_args', `error 404/3603: no_such_ask Instance type by id ${askId} is not available.`, {
        ask_id: Number(askId),
      });
    }
    if (typeof b.image !== 'string' || !b.image)
      return error(res, 400, 'invalid_args', 'error 400: image is required', { ask_id: offer.id });
    const isBid = b.price !== undefined && b.price !== null;
    if (isBid && (typeof b.price !== 'number' || b.price < offer.min_bid || b.price > 128)) {
      return error(res, 400, 'invalid_price', `error 400: bid price ${String(b.price)} is below the machine's minimum ${offer.min_bid}`, {
        ask_id: offer.id,
      });
    }
    const disk = typeof b.disk === 'number' ? b.disk : 10;
    if (disk > offer.disk_space) {
      return error(res, 400, 'invalid_args', `error 400: disk ${disk} GB is more than the offer's ${offer.disk_space} GB`, {
        ask_id: offer.id,
      });
    }
    const runtype = typeof b.runtype === 'string' ? b.runtype : Array.isArray(b.args) ? 'args' : 'ssh';
    const onstart = typeof b.onstart === 'string' ? b.onstart : null;
    const args = Array.isArray(b.args) ? b.args.map(String) : [];
    let command: string[];
    if (runtype === 'args') {
      const program = typeof b.entrypoint === 'string' ? b.entrypoint : onstart;
      command = program ? [program, ...args] : args;
    } else {
      command = ['/bin/sh', '-c', onstart ?? 'sleep infinity'];
    }
    if (!command.length) return error(res, 400, 'invalid_args', 'error 400: runtype args needs args', { ask_id: offer.id });
    const { vars, ports } = parseEnv(b.env);
    const now = Date.now();
    const inst: DoubleInstance = {
      id: ++seq,
      label: typeof b.label === 'string' ? b.label : null,
      offer,
      isBid,
      price: isBid ? (b.price as number) : offer.dph_total,
      image: b.image,
      runtype,
      onstart,
      args,
      env: vars,
      ports,
      startedAt: now,
      runningAt: now + bootMs,
      dead: deadNext,
      outbid: false,
      destroyed: false,
      last: { state: 'running', exitCode: 0 },
    };
    deadNext = false;
    instances.push(inst);
    await launch(inst, command);
    await double.onCreate?.(String(inst.id));
    return send(res, 200, { success: true, new_contract: inst.id });
  };

  const destroy = async (i: DoubleInstance) => {
    i.destroyed = true;
    await i.launching;
    await i.container?.remove();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const v1 = url.pathname.startsWith('/api/v1/');
    const path = v1 ? url.pathname : url.pathname.replace(/^\/api\/v0/, '');
    const method = req.method ?? 'GET';
    requests.push(`${method} ${path}`);
    if (opts.rateLimit) {
      const endpoint = `${method} ${path.replace(/\/\d+(?=\/|$)/g, '/{id}')}`;
      const now = Date.now();
      const recent = (calls.get(endpoint) ?? []).filter((t) => now - t < 1000);
      if (recent.length >= opts.rateLimit.perSecond) {
        calls.set(endpoint, recent);
        return send(res, 429, { detail: `API requests too frequent endpoint threshold=${opts.rateLimit.perSecond.toFixed(1)}` });
      }
      calls.set(endpoint, [...recent, now]);
    }
    const auth = req.headers.authorization ?? '';
    if (auth !== `Bearer ${apiKey}` && url.searchParams.get('api_key') !== apiKey) {
      return error(res, 401, 'auth_error', 'Invalid user key');
    }
    const f = faults.find((x) => x.path.test(path) && (!x.method || x.method === method));
    if (f) {
      f.times = (f.times ?? 1) - 1;
      if (f.times <= 0) faults.splice(faults.indexOf(f), 1);
      return send(res, f.status, f.body);
    }
    if (path === '/bundles/' && (method === 'POST' || method === 'GET')) {
      let q: Record<string, unknown> | undefined;
      if (method === 'POST') q = await readBody(req);
      else {
        try {
          q = JSON.parse(url.searchParams.get('q') ?? '{}');
        } catch {
          q = undefined;
        }
      }
      if (!q) return error(res, 400, 'invalid_args', 'Invalid query: must be dict of conditions');
      return send(res, 200, { offers: search(q) });
    }
    const ask = /^\/asks\/([^/]+)\/?$/.exec(path);
    if (ask && method === 'PUT') return create(res, decodeURIComponent(ask[1]), await readBody(req));
    const live = () => instances.filter((i) => !i.destroyed);
    if (method === 'GET' && path === '/instances/') {
      if (opts.v0ListDeprecated) {
        return error(res, 410, 'deprecated', 'Endpoint deprecated: /api/v0/instances/ is deprecated. Use /api/v1/instances/ instead.');
      }
      const rows = await Promise.all(live().map(view));
      return send(res, 200, { instances_found: rows.length, instances: rows });
    }
    if (method === 'GET' && path === '/api/v1/instances/') {
      const limit = Math.min(25, Number(url.searchParams.get('limit') ?? 25) || 25);
      const from = Number(url.searchParams.get('after_token') ?? 0) || 0;
      const page = live().slice(from, from + limit);
      const more = from + limit < live().length;
      return send(res, 200, {
        instances: await Promise.all(page.map(view)),
        next_token: more ? String(from + limit) : null,
        total_instances: live().length,
      });
    }
    const one = /^\/instances\/([^/]+)\/?$/.exec(path);
    if (one && (method === 'GET' || method === 'DELETE')) {
      const raw = decodeURIComponent(one[1]);
      if (!/^\d+$/.test(raw)) return error(res, 400, 'invalid_args', 'invalid instance_id');
      const i = live().find((x) => x.id === Number(raw));
      if (method === 'GET') return send(res, 200, { instances: i ? await view(i) : null });
      if (!i) return error(res, 404, 'no_such_instance', `Instance ${raw} not found.`);
      await destroy(i);
      return send(res, 200, { success: true });
    }
    if (method === 'GET' && path === '/users/current/') {
      return send(res, 200, { id: 4242, email: 'double@vast.invalid', balance: 0, credit: 100, ssh_key: null });
    }
    return error(res, 404, 'not_found', `No route ${method} ${path}`);
  };

  const server = createServer((req, res) => {
    const go = () => handle(req, res).catch((err: Error) => error(res, 500, 'server_error', err.message));
    if (opts.latencyMs) setTimeout(go, opts.latencyMs);
    else void go();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;

  const double: VastaiDouble = {
    url: `http://127.0.0.1:${port}/api/v0`,
    apiKey,
    requests,
    listed: () =>
      instances
        .filter((i) => !i.destroyed)
        .map((i) => ({
          id: String(i.id),
          label: i.label ?? '',
          actual_status: i.launchError
            ? 'created'
            : i.outbid
              ? 'exited'
              : !i.container || Date.now() < i.runningAt
                ? 'loading'
                : i.last.state === 'running'
                  ? 'running'
                  : i.last.state === 'exited'
                    ? 'exited'
                    : 'offline',
          ...(i.container ? { containerId: i.container.containerId } : {}),
        })),
    fault: (f) => faults.push(f),
    deadNext: () => {
      deadNext = true;
    },
    outbid: async (id) => {
      const i = instances.find((x) => String(x.id) === id && !x.destroyed);
      if (!i) throw new Error(`vastai double: no instance ${id}`);
      if (!i.isBid) throw new Error(`vastai double: instance ${id} is on demand; only interruptible instances are outbid`);
      await i.launching;
      i.outbid = true;
      await i.container?.stop();
    },
    createDirect: (label) => {
      const offer = opts.offers.find((o) => !rentedBy(o));
      if (!offer) throw new Error('vastai double: every offer is rented');
      const now = Date.now();
      const inst: DoubleInstance = {
        id: ++seq,
        label,
        offer,
        isBid: false,
        price: offer.dph_total,
        image: opts.directImage ?? 'dstack-test/busybox:v1',
        runtype: 'args',
        onstart: '/bin/sh',
        args: ['-c', 'sleep 3600'],
        env: {},
        ports: [22],
        startedAt: now,
        runningAt: now + bootMs,
        dead: false,
        outbid: false,
        destroyed: false,
        last: { state: 'running', exitCode: 0 },
      };
      instances.push(inst);
      void launch(inst, ['/bin/sh', '-c', 'sleep 3600']);
      return String(inst.id);
    },
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      await Promise.all(instances.map((i) => i.launching));
    },
  };
  return double;
}
