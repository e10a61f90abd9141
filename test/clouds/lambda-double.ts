// A TEST DOUBLE of the Lambda Cloud API v1 (https://docs-api.lambda.ai/api/cloud; the request and
// response shapes of packages/backends/src/lambda/api.ts), for tests only: no Lambda endpoint can be
// reached here. It follows the documented routes (GET /instance-types, GET /instances, GET
// /instances/{id}, POST /instance-operations/launch, POST /instance-operations/terminate, GET and
// POST /ssh-keys), Bearer auth, and the documented error body `{"error": {"code", "message",
// "suggestion"}}` with its codes (global/invalid-api-key 401, instance-operations/launch/
// insufficient-capacity 400, global/quota-exceeded 400, global/object-does-not-exist 404,
// global/invalid-parameters 400, 429 when hurried). Its instances are REAL: each launch takes one
// of the given SSH test hosts (a network namespace with its own sshd), writes the launch's SSH keys
// as the only ones its sshd accepts, reports it `booting` for a while and then `active` with its
// address; terminating one kills every process on it but its sshd and empties its home, as a VM's
// end would.
//
// Filesystems (the same reference: GET /file-systems, POST /filesystems {name, region}, DELETE
// /filesystems/{id}; `file_system_names` at launch, one at most; mounted at /lambda/nfs/NAME): each
// one is a real folder at its mount point on this machine, made when it is created and removed when
// it is deleted. The test hosts share this machine's filesystem, so every instance sees it there (a
// real VM sees only those it was launched with: the double cannot hide it from the others). A launch
// naming one of another region, and deleting one an instance still has, are refused (codes are the
// double's guess: global/invalid-parameters, filesystem/in-use).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { existsSync, mkdirSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { TestHost } from '../harness/ssh-hosts';
import { run } from '../harness/util';

export interface DoubleType {
  name: string;
  gpu_description: string;
  price_cents_per_hour: number;
  specs: { vcpus: number; memory_gib: number; storage_gib: number; gpus: number };
  /** Regions with capacity now. */
  regions: string[];
}

interface DoubleInstance {
  id: string;
  name: string;
  status: 'booting' | 'active' | 'terminated';
  type: DoubleType;
  region: string;
  ssh_key_names: string[];
  host?: TestHost;
  file_system_names: string[];
  /** Its sshd never answers (the host's link is down). */
  dead: boolean;
  activeAt: number;
}

export interface Fault {
  method?: string;
  path: RegExp;
  status: number;
  code: string;
  message: string;
  /** How many requests it answers (default 1). */
  times?: number;
}

export interface LambdaDouble {
  /** The API base (`api_url:`), http://127.0.0.1:PORT/api/v1. */
  url: string;
  apiKey: string;
  types: DoubleType[];
  /** Every instance ever launched, as GET /instances/{id} would show it. */
  instances(): { id: string; name: string; status: string; host?: string }[];
  /** Requests seen, "METHOD /path". */
  requests: string[];
  fault(f: Fault): void;
  /** The next launched instance never answers SSH. */
  deadNext(): void;
  /** Called on each launch, after the instance exists and before the answer is sent. */
  onLaunch?: (id: string) => void | Promise<void>;
  /** Every filesystem now, with its folder on this machine (its mount point). */
  fileSystems(): { id: string; name: string; region: string; mount_point: string }[];
  /** The file_system_names of each launch, as sent. */
  launchedWith: string[][];
  /** Launches an instance as another client would (not through the daemon). */
  launchDirect(name: string): string;
  close(): Promise<void>;
}

export async function startLambdaDouble(opts: {
  hosts: TestHost[];
  types: DoubleType[];
  apiKey?: string;
  bootMs?: number;
  /** Added to every answer: a provider's round trip (benches). */
  latencyMs?: number;
}): Promise<LambdaDouble> {
  const apiKey = opts.apiKey ?? `secret_test_${Math.random().toString(36).slice(2)}`;
  const bootMs = opts.bootMs ?? 1500;
  const instances: DoubleInstance[] = [];
  const sshKeys: { id: string; name: string; public_key: string }[] = [];
  const faults: Fault[] = [];
  const requests: string[] = [];
  let deadNext = false;
  let seq = 0;
  const fileSystems: { id: string; name: string; region: string; mount_point: string; created: string }[] = [];
  const launchedWith: string[][] = [];
  // Folders the double made above the mount points (removed at close when empty).
  const madeDirs: string[] = [];
  const inUse = (name: string) => instances.some((i) => i.status !== 'terminated' && i.file_system_names.includes(name));

  const free = () => opts.hosts.find((h) => !instances.some((i) => i.host === h && i.status !== 'terminated'));

  const view = (i: DoubleInstance) => {
    const status = i.status === 'booting' && Date.now() >= i.activeAt ? 'active' : i.status;
    i.status = status;
    return {
      id: i.id,
      name: i.name,
      ip: status === 'active' ? (i.host?.address ?? null) : null,
      private_ip: null,
      status,
      ssh_key_names: i.ssh_key_names,
      region: { name: i.region, description: i.region },
      instance_type: {
        name: i.type.name,
        description: i.type.gpu_description,
        gpu_description: i.type.gpu_description,
        price_cents_per_hour: i.type.price_cents_per_hour,
        specs: i.type.specs,
      },
      hostname: null,
    };
  };

  const launch = (
    typeName: string,
    region: string,
    keyNames: string[],
    name: string,
    fsNames: string[] = [],
  ): DoubleInstance | { code: string; message: string; status: number } => {
    const type = opts.types.find((t) => t.name === typeName);
    if (!type) return { status: 400, code: 'global/invalid-parameters', message: `Invalid instance type name ${typeName}` };
    if (fsNames.length > 1) return { status: 400, code: 'global/invalid-parameters', message: 'At most one file system may be attached.' };
    for (const n of fsNames) {
      const fs = fileSystems.find((f) => f.name === n);
      if (!fs) return { status: 400, code: 'global/invalid-parameters', message: `File system ${n} does not exist.` };
      if (fs.region !== region)
        return { status: 400, code: 'global/invalid-parameters', message: `File system ${n} is in ${fs.region}, not in ${region}.` };
    }
    const host = free();
    if (!type.regions.includes(region) || !host) {
      return {
        status: 400,
        code: 'instance-operations/launch/insufficient-capacity',
        message: 'Not enough capacity to fulfill launch request.',
      };
    }
    const keys = keyNames.map((k) => sshKeys.find((s) => s.name === k));
    if (keys.some((k) => !k)) return { status: 400, code: 'global/invalid-parameters', message: 'Invalid SSH key name' };
    // The only keys its sshd accepts now are the launch's.
    writeFileSync(host.authorizedKeysFile, keys.map((k) => `${k!.public_key}\n`).join(''), { mode: 0o600 });
    const inst: DoubleInstance = {
      id: `${(++seq).toString(16).padStart(4, '0')}${Math.random().toString(16).slice(2, 14)}`,
      name,
      status: 'booting',
      type,
      region,
      ssh_key_names: keyNames,
      file_system_names: fsNames,
      host,
      dead: deadNext,
      activeAt: Date.now() + bootMs,
    };
    if (inst.dead) void host.linkDown();
    deadNext = false;
    instances.push(inst);
    return inst;
  };

  /** A VM's end: every process on the host but its sshd killed, its home emptied, its link back up. */
  const powerOff = async (host: TestHost) => {
    const pids = (await run('ip', ['netns', 'pids', host.ns])).stdout.split('\n').filter(Boolean).map(Number);
    for (const pid of pids) {
      if (pid === host.sshdPid) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const e of readdirSync(host.homeDir)) if (e !== '.ssh') rmSync(join(host.homeDir, e), { recursive: true, force: true });
    await host.linkUp();
  };

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const error = (res: ServerResponse, status: number, code: string, message: string, suggestion?: string) =>
    send(res, status, { error: { code, message, ...(suggestion ? { suggestion } : {}) } });

  const body = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    let text = '';
    for await (const c of req) text += String(c);
    try {
      return text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      return { __invalid: true };
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/^\/api\/v1/, '');
    const method = req.method ?? 'GET';
    requests.push(`${method} ${path}`);
    const auth = req.headers.authorization ?? '';
    const basic = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString().replace(/:$/, '') : undefined;
    if (auth !== `Bearer ${apiKey}` && basic !== apiKey) {
      return error(
        res,
        401,
        'global/invalid-api-key',
        'API key was invalid, expired, or deleted.',
        'Check your API key or create a new one, then try again.',
      );
    }
    const f = faults.find((x) => x.path.test(path) && (!x.method || x.method === method));
    if (f) {
      f.times = (f.times ?? 1) - 1;
      if (f.times <= 0) faults.splice(faults.indexOf(f), 1);
      return error(res, f.status, f.code, f.message);
    }
    if (method === 'GET' && path === '/instance-types') {
      const data = Object.fromEntries(
        opts.types.map((t) => [
          t.name,
          {
            instance_type: {
              name: t.name,
              description: `1x ${t.gpu_description}`,
              gpu_description: t.gpu_description,
              price_cents_per_hour: t.price_cents_per_hour,
              specs: t.specs,
            },
            regions_with_capacity_available: t.regions.map((r) => ({ name: r, description: r })),
          },
        ]),
      );
      return send(res, 200, { data });
    }
    if (method === 'GET' && path === '/instances')
      return send(res, 200, { data: instances.filter((i) => i.status !== 'terminated').map(view) });
    const one = /^\/instances\/([^/]+)$/.exec(path);
    if (method === 'GET' && one) {
      const i = instances.find((x) => x.id === decodeURIComponent(one[1]));
      if (!i) return error(res, 404, 'global/object-does-not-exist', 'Specified instance does not exist.');
      return send(res, 200, { data: view(i) });
    }
    const fsView = (f: (typeof fileSystems)[number]) => ({
      id: f.id,
      name: f.name,
      mount_point: f.mount_point,
      created: f.created,
      created_by: { id: 'user_double', email: 'double@example.com', status: 'active' },
      is_in_use: inUse(f.name),
      region: { name: f.region, description: f.region },
      bytes_used: 0,
    });
    if (method === 'GET' && path === '/file-systems') return send(res, 200, { data: fileSystems.map(fsView) });
    if (method === 'POST' && path === '/filesystems') {
      const b = await body(req);
      if (typeof b.name !== 'string' || !/^[a-zA-Z]+[0-9a-zA-Z-]*$/.test(b.name) || b.name.length > 60 || typeof b.region !== 'string')
        return error(res, 400, 'global/invalid-parameters', 'Invalid request body.');
      if (!opts.types.some((t) => t.regions.includes(b.region as string)))
        return error(res, 400, 'global/invalid-parameters', `Invalid region ${b.region}.`);
      if (fileSystems.some((f) => f.name === b.name))
        return error(res, 400, 'global/invalid-parameters', 'File system name already in use.');
      const mount = `/lambda/nfs/${b.name}`;
      for (const d of ['/lambda', '/lambda/nfs']) {
        if (!existsSync(d)) {
          mkdirSync(d);
          madeDirs.unshift(d);
        }
      }
      mkdirSync(mount, { mode: 0o777 });
      const f = {
        id: `fs${(++seq).toString(16)}${Math.random().toString(16).slice(2, 10)}`,
        name: b.name,
        region: b.region,
        mount_point: mount,
        created: new Date().toISOString(),
      };
      fileSystems.push(f);
      return send(res, 200, { data: fsView(f) });
    }
    const fsOne = /^\/filesystems\/([^/]+)$/.exec(path);
    if (method === 'DELETE' && fsOne) {
      const f = fileSystems.find((x) => x.id === decodeURIComponent(fsOne[1]));
      if (!f) return error(res, 404, 'global/object-does-not-exist', 'Specified file system does not exist.');
      if (inUse(f.name)) return error(res, 400, 'filesystem/in-use', 'File system is in use by an instance.');
      fileSystems.splice(fileSystems.indexOf(f), 1);
      rmSync(f.mount_point, { recursive: true, force: true });
      return send(res, 200, { data: { deleted_ids: [f.id] } });
    }
    if (method === 'GET' && path === '/ssh-keys') return send(res, 200, { data: sshKeys });
    if (method === 'POST' && path === '/ssh-keys') {
      const b = await body(req);
      if (typeof b.name !== 'string' || typeof b.public_key !== 'string')
        return error(res, 400, 'global/invalid-parameters', 'Invalid request body.');
      if (sshKeys.some((k) => k.name === b.name)) return error(res, 400, 'global/invalid-parameters', 'SSH key name already in use.');
      const key = { id: `k${sshKeys.length}`, name: b.name, public_key: b.public_key };
      sshKeys.push(key);
      return send(res, 200, { data: key });
    }
    if (method === 'POST' && path === '/instance-operations/launch') {
      const b = await body(req);
      if (typeof b.region_name !== 'string' || typeof b.instance_type_name !== 'string' || !Array.isArray(b.ssh_key_names)) {
        return error(res, 400, 'global/invalid-parameters', 'Invalid request body.');
      }
      const fsNames = Array.isArray(b.file_system_names) ? (b.file_system_names as string[]) : [];
      launchedWith.push(fsNames);
      const r = launch(b.instance_type_name, b.region_name, b.ssh_key_names as string[], typeof b.name === 'string' ? b.name : '', fsNames);
      if ('code' in r) return error(res, r.status, r.code, r.message);
      await double.onLaunch?.(r.id);
      return send(res, 200, { data: { instance_ids: [r.id] } });
    }
    if (method === 'POST' && path === '/instance-operations/terminate') {
      const b = await body(req);
      const ids = Array.isArray(b.instance_ids) ? (b.instance_ids as string[]) : [];
      const found = ids.map((id) => instances.find((i) => i.id === id && i.status !== 'terminated'));
      if (!ids.length || found.some((i) => !i))
        return error(res, 404, 'global/object-does-not-exist', 'Specified instance does not exist.');
      for (const i of found) {
        i!.status = 'terminated';
        if (i!.host) await powerOff(i!.host);
      }
      return send(res, 200, { data: { terminated_instances: found.map((i) => view(i!)) } });
    }
    return error(res, 404, 'global/not-found', `No route ${method} ${path}`);
  };

  const server = createServer((req, res) => {
    const go = () => handle(req, res).catch((err: Error) => error(res, 500, 'global/internal', err.message));
    if (opts.latencyMs) setTimeout(go, opts.latencyMs);
    else void go();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;

  const double: LambdaDouble = {
    url: `http://127.0.0.1:${port}/api/v1`,
    apiKey,
    types: opts.types,
    instances: () => instances.map((i) => ({ id: i.id, name: i.name, status: view(i).status, host: i.host?.name })),
    requests,
    fault: (f) => faults.push(f),
    deadNext: () => {
      deadNext = true;
    },
    launchDirect: (name) => {
      const r = launch(
        opts.types[0].name,
        opts.types[0].regions[0],
        sshKeys.map((k) => k.name),
        name,
      );
      if ('code' in r) throw new Error(r.message);
      return r.id;
    },
    fileSystems: () => fileSystems.map((f) => ({ id: f.id, name: f.name, region: f.region, mount_point: f.mount_point })),
    launchedWith,
    close: () =>
      new Promise<void>((r) => {
        for (const f of fileSystems.splice(0)) rmSync(f.mount_point, { recursive: true, force: true });
        for (const d of madeDirs) {
          try {
            rmdirSync(d);
          } catch {
            /* another double's filesystem is still there */
          }
        }
        server.close(() => r());
      }),
  };
  return double;
}
