import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Offer } from '@dstack/core/gen/daemon';
import { type CloudError, CloudNoCapacityError } from '../cloud/cloud-error';
import type { CreateRequest } from '../cloud/compute';
import { classifyVastai, type VastaiInstance, type VastaiOffer, VastaiApi } from './api';
import { VastaiCompute, vastaiGpuName, vastaiInstance, vastaiOffers, vastaiRegion } from './compute';
import { CONTAINER_SSH_PORT } from '../cloud/container-bootstrap';

interface Seen {
  method: string;
  path: string;
  auth: string;
  body: any;
}

interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

const servers: { close: () => void }[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A stand-in for console.vast.ai: each request recorded, answered by `answer`. */
async function vast(answer: (r: Seen, n: number) => Answer): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer(async (req, res) => {
    let text = '';
    for await (const c of req) text += String(c);
    const r: Seen = {
      method: req.method ?? '',
      path: req.url ?? '',
      auth: req.headers.authorization ?? '',
      body: text ? JSON.parse(text) : undefined,
    };
    seen.push(r);
    const a = answer(r, seen.length);
    res.writeHead(a.status, { 'Content-Type': 'application/json', ...a.headers });
    res.end(a.body === undefined ? '' : JSON.stringify(a.body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v0`, seen };
}

const compute = (url: string, key = 'k3y') => new VastaiCompute(new VastaiApi(key, { baseUrl: url, backoffMs: 20 }));

const offer = (o: Partial<VastaiOffer> = {}): VastaiOffer => ({
  id: 4242,
  gpu_name: 'RTX 4090',
  gpu_arch: 'nvidia',
  num_gpus: 2,
  gpu_ram: 24564,
  cpu_cores: 32,
  cpu_cores_effective: 16.5,
  cpu_ram: 128000,
  cpu_arch: 'amd64',
  disk_space: 250.7,
  dph_total: 0.712,
  min_bid: 0.301,
  geolocation: 'Washington, US',
  rentable: true,
  rented: false,
  ...o,
});

const running = (i: Partial<VastaiInstance> = {}): VastaiInstance => ({
  id: 777,
  label: 'dstack-run-1',
  actual_status: 'running',
  intended_status: 'running',
  cur_state: 'running',
  status_msg: 'success, running vastai/test',
  public_ipaddr: '203.0.113.7\n',
  ports: { '10022/tcp': [{ HostIp: '0.0.0.0', HostPort: '41022' }] },
  geolocation: 'Quebec, CA',
  start_date: 1761008618.225,
  is_bid: false,
  ...i,
});

const request = (o: Partial<Offer>, container = true): CreateRequest => ({
  offer: {
    backend: 'vastai',
    region: 'us-washington',
    instanceType: '4242',
    spot: false,
    price: 0.712,
    availability: 'available',
    instanceName: '',
    fleet: '',
    ...o,
  },
  name: 'dstack-run-1',
  sshPublicKey: 'ssh-ed25519 AAAA key',
  ...(container
    ? {
        container: {
          image: 'dstack-test/debian:bookworm-v1',
          command: ['/bin/sh', '-c', 'exec sshd -D -p 10022'],
          sshPort: CONTAINER_SSH_PORT,
          env: { DSTACK_RUN: 'run-1' },
          diskGb: 99.5,
        },
      }
    : {}),
});

describe('Vast.ai offers', () => {
  it.each([
    ['RTX 4090', 'RTX4090'],
    ['H100 SXM', 'H100'],
    ['H100 NVL', 'H100NVL'],
    ['A100 PCIE', 'A100'],
    ['A100 SXM4', 'A100'],
    ['RTX A6000', 'A6000'],
    ['Tesla V100', 'V100'],
    ['L40S', 'L40S'],
    ['RTX 3090 Ti', 'RTX3090Ti'],
  ])('names %s as dstack does', (vast, want) => {
    expect(vastaiGpuName(vast)).toBe(want);
  });

  it('names regions country first', () => {
    expect(vastaiRegion('Washington, US')).toBe('us-washington');
    expect(vastaiRegion('Quebec, CA')).toBe('ca-quebec');
    expect(vastaiRegion('New York, US')).toBe('us-newyork');
    expect(vastaiRegion('SE')).toBe('se');
    expect(vastaiRegion(null)).toBe('');
  });

  it('makes each machine an on-demand offer at dph_total and an interruptible one at min_bid', () => {
    const offers = vastaiOffers([offer(), offer({ id: 5, min_bid: 0, cpu_cores: null, cpu_ram: 64000, cpu_arch: 'arm64' })]);
    expect(offers.map((o) => [o.instanceType, o.region, o.spot, o.price, o.resources?.spot])).toEqual([
      ['4242', 'us-washington', false, 0.712, false],
      ['4242', 'us-washington', true, 0.301, true],
      ['5', 'us-washington', false, 0.712, false],
    ]);
    expect(offers[0]).toMatchObject({ backend: 'vastai', availability: 'available', instanceName: '', fleet: '' });
    // 16.5 of 32 cores: 16 CPUs and that share of 128 GB; GPU memory MB → GB.
    expect(offers[0].resources).toEqual({
      cpus: 16,
      cpuArch: 'x86',
      memoryGb: 66,
      diskGb: 250,
      gpus: [{ vendor: 'nvidia', name: 'RTX4090', memoryGb: 24, count: 2 }],
      spot: false,
    });
    expect(offers[2].resources).toMatchObject({ memoryGb: 64, cpuArch: 'arm' });
  });

  it('searches once for the cheapest rentable machines, retrying a 429 "too frequent"', async () => {
    const v = await vast((_r, n) =>
      n === 1
        ? { status: 429, body: { detail: 'API requests too frequent endpoint threshold=2.0' } }
        : { status: 200, body: { offers: [offer()] } },
    );
    const offers = await compute(v.url).offers();
    expect(offers).toHaveLength(2);
    expect(v.seen.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /api/v0/bundles/', 'POST /api/v0/bundles/']);
    expect(v.seen[1].auth).toBe('Bearer k3y');
    expect(v.seen[1].body).toMatchObject({
      verified: { eq: true },
      rentable: { eq: true },
      rented: { eq: false },
      type: 'on-demand',
      order: [['dph_total', 'asc']],
      limit: 1000,
    });
  });

  it('waits as Retry-After says when Vast.ai sends one', async () => {
    const at: number[] = [];
    const v = await vast((_r, n) => {
      at.push(Date.now());
      return n < 3
        ? { status: 429, body: { detail: 'API requests too frequent endpoint threshold=1.0' }, headers: { 'Retry-After': '0.3' } }
        : { status: 200, body: { id: 1, email: 'a@b' } };
    });
    await compute(v.url).check();
    expect(v.seen).toHaveLength(3);
    expect(at[2] - at[0]).toBeGreaterThanOrEqual(550);
  });

  it('gives up on 429 after its attempts, as provider-down', async () => {
    const v = await vast(() => ({ status: 429, body: { detail: 'API requests too frequent endpoint threshold=2.0' } }));
    const err = (await compute(v.url)
      .offers()
      .catch((e) => e)) as CloudError;
    expect(err.kind).toBe('provider-down');
    expect(err.message).toBe('vastai: provider unavailable: API requests too frequent endpoint threshold=2.0');
    expect(v.seen).toHaveLength(6);
  });
});

describe('Vast.ai instances', () => {
  it('rents the offer with the container as dstack sends it: image, label, disk, args, the SSH port in env', async () => {
    const v = await vast(() => ({ status: 200, body: { success: true, new_contract: 9001 } }));
    const c = compute(v.url);
    expect(await c.create(request({}))).toBe('9001');
    expect(v.seen[0].method).toBe('PUT');
    expect(v.seen[0].path).toBe('/api/v0/asks/4242/');
    expect(v.seen[0].body).toEqual({
      client_id: 'me',
      image: 'dstack-test/debian:bookworm-v1',
      disk: 100,
      label: 'dstack-run-1',
      env: { DSTACK_RUN: 'run-1', '-p 10022:10022': '1' },
      runtype: 'args',
      onstart: '/bin/sh',
      args: ['-c', 'exec sshd -D -p 10022'],
      user: 'root',
      cancel_unavail: true,
      image_login: null,
      python_utf8: false,
      lang_utf8: false,
      use_jupyter_lab: false,
      jupyter_dir: null,
      force: false,
    });
    // Interruptible: the offer's price (its min_bid) is the bid.
    await c.create(request({ spot: true, price: 0.301 }));
    expect(v.seen[1].body.price).toBe(0.301);
    await expect(c.create(request({}, false))).rejects.toThrow(/no container/);
  });

  it('retries a create refused as too frequent (Vast.ai did not act on it)', async () => {
    const v = await vast((_r, n) =>
      n === 1
        ? { status: 429, body: { detail: 'API requests too frequent endpoint threshold=4.5' } }
        : { status: 200, body: { success: true, new_contract: 5 } },
    );
    expect(await compute(v.url).create(request({}))).toBe('5');
    expect(v.seen).toHaveLength(2);
  });

  it.each([
    [
      404,
      {
        success: false,
        error: 'invalid_args',
        msg: 'error 404/3603: no_such_ask Instance type by id 4242 is not available.',
        ask_id: 4242,
      },
    ],
    [
      410,
      { success: false, error: 'no_such_ask', msg: 'error 410/3907: no_such_ask Instance type 4242 is no longer available.', ask_id: 4242 },
    ],
    [400, { success: false, error: 'invalid_price', msg: 'Bid price is below the minimum.' }],
    [200, { success: false, error: 'no_such_ask', msg: 'Instance type 4242 is no longer available.' }],
  ])('a gone offer (%i) is no capacity', async (status, body) => {
    const v = await vast(() => ({ status, body }));
    const err = await compute(v.url)
      .create(request({}))
      .catch((e) => e);
    expect(err).toBeInstanceOf(CloudNoCapacityError);
    expect(err.message).toMatch(/^vastai: no capacity: /);
    expect(v.seen).toHaveLength(1);
  });

  it('reads the states, the public address and the mapped SSH port', async () => {
    const answers: Record<string, unknown> = {
      '1': running(),
      '2': running({ actual_status: 'loading', status_msg: 'Pulling image', ports: null }),
      '3': running({ actual_status: null, cur_state: 'running' }),
      '4': running({ actual_status: 'exited', status_msg: 'Exited (1)' }),
      '5': running({ actual_status: 'offline' }),
      '6': null,
    };
    const v = await vast((r) => {
      const id = /\/instances\/(\d+)\//.exec(r.path)?.[1] ?? '';
      return { status: 200, body: { instances: answers[id] === null ? null : { ...(answers[id] as object), id: Number(id) } } };
    });
    const c = compute(v.url);
    expect(await c.get('1')).toEqual({
      id: '1',
      name: 'dstack-run-1',
      state: 'running',
      providerState: 'running',
      ip: '203.0.113.7',
      sshPort: 41022,
      sshUser: 'root',
      region: 'ca-quebec',
      createdMs: 1761008618225,
    });
    expect(v.seen[0].path).toBe('/api/v0/instances/1/?owner=me');
    expect(await c.get('2')).toMatchObject({ state: 'pending', providerState: 'loading', ip: '', statusMessage: 'Pulling image' });
    expect(await c.get('3')).toMatchObject({ state: 'pending', providerState: 'provisioning' });
    const exited = await c.get('4');
    expect(exited).toMatchObject({ state: 'stopped', ip: '', statusMessage: 'Exited (1)' });
    expect(exited?.interrupted).toBeUndefined();
    expect(await c.get('5')).toMatchObject({ state: 'terminated' });
    expect(await c.get('6')).toBeNull();
  });

  it('a running container whose SSH port is not mapped yet has no address', () => {
    expect(vastaiInstance(running({ ports: {} }))).toMatchObject({ state: 'running', ip: '' });
    expect(vastaiInstance(running({ ports: { '2222/tcp': [{ HostIp: '0.0.0.0', HostPort: '40001' }] } }), 2222)).toMatchObject({
      ip: '203.0.113.7',
      sshPort: 40001,
    });
  });

  it('a container the host could not create has failed', () => {
    const msg = 'Error response from daemon: failed to create task for container: OCI runtime create failed: unresolvable CDI devices';
    expect(
      vastaiInstance(running({ actual_status: 'created', cur_state: 'stopped', intended_status: 'stopped', status_msg: msg })),
    ).toMatchObject({
      state: 'failed',
      statusMessage: msg,
    });
    expect(vastaiInstance(running({ actual_status: 'created', status_msg: null }))).toMatchObject({ state: 'pending' });
  });

  it('an interruptible instance paused for a higher bid is interrupted; one whose program ended is not', () => {
    const outbid = vastaiInstance(
      running({ is_bid: true, actual_status: 'exited', cur_state: 'stopped', intended_status: 'running', status_msg: 'Instance outbid' }),
    );
    expect(outbid).toMatchObject({ state: 'stopped', interrupted: true, statusMessage: 'Instance outbid' });
    expect(vastaiInstance(running({ is_bid: true, actual_status: 'stopped', cur_state: 'stopped', status_msg: null })).interrupted).toBe(
      true,
    );
    // Its own program exited: the contract still holds the machine.
    expect(vastaiInstance(running({ is_bid: true, actual_status: 'exited', status_msg: 'Exited (0)' })).interrupted).toBeUndefined();
    // Stopped by its owner.
    expect(
      vastaiInstance(running({ is_bid: true, actual_status: 'stopped', cur_state: 'stopped', intended_status: 'stopped' })).interrupted,
    ).toBeUndefined();
    // On demand is never outbid.
    expect(vastaiInstance(running({ actual_status: 'exited', cur_state: 'stopped' })).interrupted).toBeUndefined();
  });

  it('lists the account, falling back to the v1 pages where v0 answers 410', async () => {
    const v = await vast((r) => {
      if (r.path === '/api/v0/instances/')
        return { status: 410, body: { error: 'deprecated', msg: 'Endpoint deprecated: use /api/v1/instances/' } };
      const after = new URL(r.path, 'http://x').searchParams.get('after_token');
      return after
        ? { status: 200, body: { instances: [running({ id: 2, label: 'b' })], next_token: null } }
        : { status: 200, body: { instances: [running({ id: 1, label: 'a' })], next_token: 't1' } };
    });
    expect((await compute(v.url).list()).map((i) => [i.id, i.name])).toEqual([
      ['1', 'a'],
      ['2', 'b'],
    ]);
    expect(v.seen.map((r) => r.path.replace(/\?.*/, ''))).toEqual(['/api/v0/instances/', '/api/v1/instances/', '/api/v1/instances/']);
    expect(new URL(v.seen[1].path, 'http://x').searchParams.get('limit')).toBe('25');

    const v0 = await vast(() => ({ status: 200, body: { instances_found: 1, instances: [running({ id: 3, label: 'c' })] } }));
    expect((await compute(v0.url).list()).map((i) => i.id)).toEqual(['3']);
  });

  it('terminates by DELETE; an instance already gone counts as done', async () => {
    const v = await vast((_r, n) =>
      n === 1
        ? { status: 200, body: { success: true } }
        : { status: 404, body: { success: false, error: 'no_such_instance', msg: 'Instance 9 not found.' } },
    );
    const c = compute(v.url);
    await c.terminate('9');
    await c.terminate('9');
    expect(v.seen.map((r) => `${r.method} ${r.path}`)).toEqual(['DELETE /api/v0/instances/9/', 'DELETE /api/v0/instances/9/']);
  });

  it('checks the key with GET /users/current/', async () => {
    const v = await vast((r) =>
      r.auth === 'Bearer good'
        ? { status: 200, body: { id: 1 } }
        : { status: 401, body: { success: false, error: 'invalid_api_key', msg: 'Invalid API key.' } },
    );
    await compute(v.url, 'good').check();
    const err = (await compute(v.url, 'bad')
      .check()
      .catch((e) => e)) as CloudError;
    expect(err.kind).toBe('credentials');
    expect(err.message).toBe('vastai: credentials refused: Invalid API key. (invalid_api_key)');
    expect(v.seen.map((r) => r.path)).toEqual(['/api/v0/users/current/', '/api/v0/users/current/']);
  });
});

describe('Vast.ai errors', () => {
  const answer = (status: number, body: unknown) => ({ status, body, headers: new Headers() });
  it('classifies the documented answers, keeping the provider’s words', () => {
    const kinds = [
      [401, { success: false, error: 'auth_error', msg: 'Invalid user key' }, 'credentials'],
      [403, { success: false, error: 'forbidden', msg: 'Blacklisted' }, 'credentials'],
      [404, { success: false, error: 'no_such_instance', msg: 'Instance 1 not found.' }, 'not-found'],
      [400, { success: false, error: 'invalid_args', msg: "error 400/3467: Invalid args: 'id' is required" }, 'bad-request'],
      [402, { success: false, error: 'insufficient_credit', msg: 'Your balance is too low.' }, 'quota'],
      [429, { detail: 'API requests too frequent endpoint threshold=3.0' }, 'provider-down'],
      [503, { success: false, error: 'service_unavailable', msg: 'temporary server error, please retry' }, 'provider-down'],
      [410, { error: 'deprecated', msg: 'Endpoint deprecated' }, 'bad-request'],
    ] as const;
    for (const [status, body, kind] of kinds) expect((classifyVastai(answer(status, body)) as CloudError).kind).toBe(kind);
    expect(classifyVastai(answer(200, { instances: [] }))).toBeUndefined();
    expect(classifyVastai(answer(200, { success: true, new_contract: 1 }))).toBeUndefined();
    expect(classifyVastai(answer(502, '<html>Bad gateway</html>'))?.message).toBe(
      'vastai: provider unavailable: HTTP 502 <html>Bad gateway</html>',
    );
  });
});
