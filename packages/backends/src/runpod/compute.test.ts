import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CloudError, CloudNoCapacityError } from '../cloud/cloud-error';
import { classifyRunpod, RunpodApi, type RunpodGpuType, type RunpodPod } from './api';
import { RunpodCompute, runpodDockerArgs, runpodGpuName, runpodOffers } from './compute';
import { CONTAINER_SSH_PORT } from '../cloud/container-bootstrap';

const NO_CAPACITY = 'There are no longer any instances available with the requested specifications. Please refresh and try again.';

interface Seen {
  auth: string;
  query: string;
  variables: Record<string, unknown>;
}

type Answer = { status?: number; body: unknown };

/** A tiny RunPod: one POST /graphql endpoint, answers from the test's handler (errors in a 200 too). */
let server: Server;
let url: string;
let seen: Seen[];
let handler: (s: Seen) => Answer;

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (c) => {
      text += String(c);
    });
    req.on('end', () => {
      const body = JSON.parse(text || '{}') as { query?: string; variables?: Record<string, unknown> };
      const s: Seen = { auth: req.headers.authorization ?? '', query: body.query ?? '', variables: body.variables ?? {} };
      seen.push(s);
      if (req.method !== 'POST' || req.url !== '/graphql') {
        res.writeHead(404).end('not found');
        return;
      }
      const a = handler(s);
      res.writeHead(a.status ?? 200, { 'Content-Type': 'application/json' });
      res.end(typeof a.body === 'string' ? a.body : JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

beforeEach(() => {
  seen = [];
  handler = () => ({ body: { data: null, errors: [{ message: 'unexpected request' }] } });
});

const compute = (key = 'rpa_test') => new RunpodCompute(new RunpodApi(key, url, 5000));

const lp = (price: number | null, stock: string | null, vcpu: number, mem: number) => ({
  uninterruptablePrice: price,
  minimumBidPrice: null,
  minVcpu: vcpu,
  minMemory: mem,
  stockStatus: stock,
});

const TYPES: RunpodGpuType[] = [
  {
    id: 'NVIDIA GeForce RTX 4090',
    displayName: 'RTX 4090',
    manufacturer: 'Nvidia',
    memoryInGb: 24,
    maxGpuCount: 2,
    secureCloud: true,
    communityCloud: true,
    securePrice: 0.69,
    communityPrice: 0.34,
    lp1: lp(0.34, 'High', 6, 31),
    lp2: lp(0.34, 'Low', 12, 62),
    lp4: lp(null, null, 0, 0),
    lp8: lp(null, null, 0, 0),
  },
  {
    id: 'NVIDIA H100 80GB HBM3',
    displayName: 'H100 SXM',
    manufacturer: 'Nvidia',
    memoryInGb: 80,
    maxGpuCount: 8,
    secureCloud: true,
    communityCloud: false,
    securePrice: 2.99,
    communityPrice: null,
    lp1: lp(2.69, 'Medium', 16, 125),
    lp2: lp(2.69, null, 32, 251),
    lp4: lp(2.69, 'Low', 64, 502),
    lp8: lp(2.69, 'Low', 128, 1004),
  },
  {
    id: 'AMD Instinct MI300X OAM',
    displayName: 'MI300X',
    manufacturer: 'AMD',
    memoryInGb: 192,
    maxGpuCount: 1,
    secureCloud: true,
    communityCloud: false,
    securePrice: 2.49,
    communityPrice: null,
    lp1: lp(2.49, 'Low', 24, 283),
  },
  {
    id: 'unknown',
    displayName: 'unknown',
    manufacturer: 'Nvidia',
    memoryInGb: 0,
    maxGpuCount: 0,
    secureCloud: false,
    communityCloud: false,
    securePrice: null,
    communityPrice: null,
  },
];

const pod = (over: Partial<RunpodPod> = {}): RunpodPod => ({
  id: 'abc123xyz',
  name: 'dstack-abc-dev-0',
  desiredStatus: 'RUNNING',
  imageName: 'dstack-test/debian:bookworm-v1',
  costPerHr: 0.34,
  gpuCount: 1,
  lastStatusChange: 'Rented by User: Tue Jan 07 2025 10:00:00 GMT+0000',
  machine: { gpuDisplayName: 'RTX 4090' },
  runtime: null,
  ...over,
});

describe('RunPod GPU types as offers', () => {
  it.each([
    [
      { id: 'NVIDIA GeForce RTX 4090', displayName: 'RTX 4090', manufacturer: 'Nvidia' },
      { vendor: 'nvidia', name: 'RTX4090' },
    ],
    [
      { id: 'NVIDIA GeForce RTX 4090', displayName: '', manufacturer: 'Nvidia' },
      { vendor: 'nvidia', name: 'RTX4090' },
    ],
    [
      { id: 'NVIDIA A100 80GB PCIe', displayName: 'A100 PCIe', manufacturer: 'Nvidia' },
      { vendor: 'nvidia', name: 'A100' },
    ],
    [
      { id: 'NVIDIA H100 80GB HBM3', displayName: 'H100 SXM', manufacturer: 'Nvidia' },
      { vendor: 'nvidia', name: 'H100' },
    ],
    [
      { id: 'NVIDIA H100 NVL', displayName: 'H100 NVL', manufacturer: 'Nvidia' },
      { vendor: 'nvidia', name: 'H100NVL' },
    ],
    [
      { id: 'NVIDIA RTX A6000', displayName: 'RTX A6000', manufacturer: 'Nvidia' },
      { vendor: 'nvidia', name: 'A6000' },
    ],
    [
      { id: 'NVIDIA L40S', displayName: 'L40S', manufacturer: 'Nvidia' },
      { vendor: 'nvidia', name: 'L40S' },
    ],
    [
      { id: 'AMD Instinct MI300X OAM', displayName: 'MI300X', manufacturer: 'AMD' },
      { vendor: 'amd', name: 'MI300X' },
    ],
  ])('names %o as dstack does', (t, want) => {
    expect(runpodGpuName(t)).toEqual(want);
  });

  it('offers each type at 1, 2, 4, 8 GPUs up to its maxGpuCount, priced per GPU × count, stocked as lowestPrice says', () => {
    const offers = runpodOffers(TYPES);
    expect(offers.map((o) => [o.instanceType, o.resources?.gpus[0].count, o.price, o.availability, o.region, o.spot])).toEqual([
      ['NVIDIA GeForce RTX 4090', 1, 0.34, 'available', '', false],
      ['NVIDIA GeForce RTX 4090', 2, 0.68, 'available', '', false],
      ['NVIDIA H100 80GB HBM3', 1, 2.69, 'available', '', false],
      ['NVIDIA H100 80GB HBM3', 2, 5.38, 'not_available', '', false],
      ['NVIDIA H100 80GB HBM3', 4, 10.76, 'available', '', false],
      ['NVIDIA H100 80GB HBM3', 8, 21.52, 'available', '', false],
      ['AMD Instinct MI300X OAM', 1, 2.49, 'available', '', false],
    ]);
    expect(offers[1]).toMatchObject({
      backend: 'runpod',
      resources: {
        cpus: 12,
        cpuArch: 'x86',
        memoryGb: 62,
        gpus: [{ vendor: 'nvidia', name: 'RTX4090', memoryGb: 24, count: 2 }],
        spot: false,
      },
    });
    expect(offers[6].resources?.gpus[0]).toEqual({ vendor: 'amd', name: 'MI300X', memoryGb: 192, count: 1 });
  });

  it('falls back to the list price of the cloud asked for when no placement is priced, and leaves out types the cloud lacks', () => {
    const secure = runpodOffers(TYPES, 'SECURE');
    expect(secure.filter((o) => o.instanceType === 'NVIDIA GeForce RTX 4090').map((o) => [o.price, o.availability])).toEqual([
      [0.34, 'available'],
      [0.68, 'available'],
    ]);
    const community = runpodOffers(TYPES, 'COMMUNITY');
    expect(new Set(community.map((o) => o.instanceType))).toEqual(new Set(['NVIDIA GeForce RTX 4090']));
    const noPrice = runpodOffers([{ ...TYPES[0], lp1: lp(null, null, 6, 31), lp2: undefined }], 'SECURE');
    expect(noPrice.map((o) => [o.price, o.availability])).toEqual([
      [0.69, 'not_available'],
      [1.38, 'not_available'],
    ]);
  });

  it('asks gpuTypes once, with lowestPrice for each count as a variable, over Bearer auth', async () => {
    handler = () => ({ body: { data: { gpuTypes: TYPES } } });
    const offers = await compute().offers();
    expect(offers).toHaveLength(7);
    expect(seen).toHaveLength(1);
    expect(seen[0].auth).toBe('Bearer rpa_test');
    expect(seen[0].query).toMatch(/^query GpuTypes\(\$lp1: GpuLowestPriceInput/);
    expect(seen[0].query).toContain('lp8: lowestPrice(input: $lp8) { uninterruptablePrice');
    expect(seen[0].variables).toEqual({ lp1: { gpuCount: 1 }, lp2: { gpuCount: 2 }, lp4: { gpuCount: 4 }, lp8: { gpuCount: 8 } });
    await new RunpodCompute(new RunpodApi('k', url), { cloudType: 'SECURE' }).offers();
    expect(seen[1].variables.lp2).toEqual({ gpuCount: 2, secureCloud: true });
  });

  it('with regions: (data center ids) lists each offer once per region, for the deploy to ask that data center', async () => {
    handler = () => ({ body: { data: { gpuTypes: TYPES } } });
    const offers = await new RunpodCompute(new RunpodApi('k', url), { regions: ['EU-RO-1', 'US-TX-3'] }).offers();
    expect(offers).toHaveLength(14);
    expect(offers.map((o) => o.region).filter((r, i, a) => a.indexOf(r) === i)).toEqual(['EU-RO-1', 'US-TX-3']);
  });
});

describe('RunPod pods', () => {
  const container = {
    image: 'dstack-test/debian:bookworm-v1',
    command: ['/bin/sh', '-c', 'exec sshd -D -p 10022'],
    sshPort: 10022,
    env: { DSTACK_RUN: 'dev', LANG: 'C.UTF-8' },
    diskGb: 100,
  };

  it('turns the command into dockerArgs as dstack does', () => {
    expect(JSON.parse(runpodDockerArgs(['/bin/sh', '-c', 'echo hi && sleep 1']))).toEqual({
      cmd: ['echo hi && sleep 1'],
      entrypoint: ['/bin/sh', '-c'],
    });
    expect(JSON.parse(runpodDockerArgs(['/usr/sbin/sshd', '-D', '-p', '10022']))).toEqual({
      cmd: ['-D', '-p', '10022'],
      entrypoint: ['/usr/sbin/sshd'],
    });
  });

  it('deploys on demand: the run’s image and command, the ssh port public over TCP, the offer’s type and count', async () => {
    handler = (s) => {
      expect(s.query).toMatch(/^mutation Deploy\(\$input: PodFindAndDeployOnDemandInput\) \{ podFindAndDeployOnDemand\(input: \$input\)/);
      return { body: { data: { podFindAndDeployOnDemand: pod() } } };
    };
    const o = runpodOffers(TYPES)[1];
    const id = await compute().create({ offer: o, name: 'dstack-abc-dev-0', sshPublicKey: 'ssh-ed25519 AAAA', container });
    expect(id).toBe('abc123xyz');
    expect(seen[0].variables.input).toEqual({
      cloudType: 'ALL',
      gpuTypeId: 'NVIDIA GeForce RTX 4090',
      gpuCount: 2,
      name: 'dstack-abc-dev-0',
      imageName: 'dstack-test/debian:bookworm-v1',
      dockerArgs: JSON.stringify({ cmd: ['exec sshd -D -p 10022'], entrypoint: ['/bin/sh', '-c'] }),
      ports: '10022/tcp',
      volumeInGb: 0,
      containerDiskInGb: 100,
      env: [
        { key: 'DSTACK_RUN', value: 'dev' },
        { key: 'LANG', value: 'C.UTF-8' },
      ],
      supportPublicIp: true,
      minVcpuCount: 12,
      minMemoryInGb: 62,
    });
    // A data center only when the offer names one.
    await compute().create({ offer: { ...o, region: 'EU-RO-1' }, name: 'n', sshPublicKey: '', container });
    expect((seen[1].variables.input as { dataCenterId?: string }).dataCenterId).toBe('EU-RO-1');
    await expect(compute().create({ offer: o, name: 'n', sshPublicKey: '' })).rejects.toThrow(/container/);
  });

  it('reads no capacity in an HTTP 200 as CloudNoCapacityError, and does not send a deploy twice', async () => {
    handler = () => ({
      body: { data: { podFindAndDeployOnDemand: null }, errors: [{ message: NO_CAPACITY, path: ['podFindAndDeployOnDemand'] }] },
    });
    const err = await compute()
      .create({ offer: runpodOffers(TYPES)[0], name: 'n', sshPublicKey: '', container })
      .catch((e: Error) => e);
    expect(err).toBeInstanceOf(CloudNoCapacityError);
    expect((err as Error).message).toBe(`runpod: no capacity: ${NO_CAPACITY} (podFindAndDeployOnDemand)`);
    expect(seen).toHaveLength(1);
    // A 502 on a deploy is ambiguous: not asked again either (the caller looks the pod up by name).
    seen = [];
    handler = () => ({ status: 502, body: '<html>Bad gateway</html>' });
    await expect(compute().create({ offer: runpodOffers(TYPES)[0], name: 'n', sshPublicKey: '', container })).rejects.toThrow(
      'runpod: provider unavailable: HTTP 502 <html>Bad gateway</html>',
    );
    expect(seen).toHaveLength(1);
  });

  it('maps a pod’s status and runtime: starting → pending, the ssh port mapped → running, EXITED → stopped with why', async () => {
    const ports = [
      { ip: '100.65.1.2', isIpPublic: false, privatePort: 10022, publicPort: 10022, type: 'tcp' },
      { ip: '203.0.113.7', isIpPublic: true, privatePort: 22, publicPort: 40022, type: 'tcp' },
      { ip: '203.0.113.7', isIpPublic: true, privatePort: 10022, publicPort: 40123, type: 'tcp' },
      { ip: '100.65.1.2', isIpPublic: false, privatePort: 8888, publicPort: 8888, type: 'http' },
    ];
    let current = pod();
    handler = (s) => {
      expect(s.variables).toEqual({ input: { podId: 'abc123xyz' } });
      return { body: { data: { pod: current } } };
    };
    const c = compute();
    expect(await c.get('abc123xyz')).toMatchObject({ state: 'pending', providerState: 'RUNNING (starting)', ip: '', sshUser: 'root' });
    current = pod({ runtime: { uptimeInSeconds: 0, ports: [] } });
    expect((await c.get('abc123xyz'))?.state).toBe('pending');
    current = pod({ runtime: { uptimeInSeconds: 12, ports } });
    expect(await c.get('abc123xyz')).toEqual({
      id: 'abc123xyz',
      name: 'dstack-abc-dev-0',
      state: 'running',
      providerState: 'RUNNING',
      ip: '203.0.113.7',
      sshPort: 40123,
      sshUser: 'root',
      region: '',
      statusMessage: 'Rented by User: Tue Jan 07 2025 10:00:00 GMT+0000',
    });
    current = pod({ desiredStatus: 'EXITED', lastStatusChange: 'Exited with code 1', runtime: null });
    expect(await c.get('abc123xyz')).toMatchObject({ state: 'stopped', statusMessage: 'Exited with code 1' });
    current = pod({ desiredStatus: 'TERMINATED' });
    expect((await c.get('abc123xyz'))?.state).toBe('terminated');
  });

  it('picks the mapping of the ssh port create asked for, else 10022, else the only public TCP one', async () => {
    const map = (privatePort: number, publicPort: number) => ({
      ip: '198.51.100.4',
      isIpPublic: true,
      privatePort,
      publicPort,
      type: 'tcp',
    });
    const c = compute();
    handler = (s) =>
      s.query.includes('podFindAndDeployOnDemand')
        ? { body: { data: { podFindAndDeployOnDemand: pod({ id: 'p2222' }) } } }
        : {
            body: {
              data: {
                pod: pod({ id: 'p2222', runtime: { uptimeInSeconds: 1, ports: [map(2222, 41000), map(CONTAINER_SSH_PORT, 41001)] } }),
              },
            },
          };
    await c.create({ offer: runpodOffers(TYPES)[0], name: 'n', sshPublicKey: '', container: { ...container, sshPort: 2222 } });
    expect((await c.get('p2222'))?.sshPort).toBe(41000);
    // Another daemon (or this one after a restart) does not know the port: 10022 first.
    expect((await compute().get('p2222'))?.sshPort).toBe(41001);
    handler = () => ({ body: { data: { pod: pod({ runtime: { uptimeInSeconds: 1, ports: [map(22, 43000)] } }) } } });
    expect((await compute().get('abc123xyz'))?.sshPort).toBe(43000);
  });

  it('says null for a pod RunPod does not know: a null pod, or "pod not found"', async () => {
    handler = () => ({ body: { data: { pod: null } } });
    expect(await compute().get('gone')).toBeNull();
    handler = () => ({ body: { data: { pod: null }, errors: [{ message: 'pod not found', path: ['pod'] }] } });
    expect(await compute().get('gone')).toBeNull();
    handler = () => ({ body: { data: null, errors: [{ message: 'Something went wrong. Please try again later.' }] } });
    await expect(compute().get('x')).rejects.toThrow('runpod: provider unavailable: Something went wrong. Please try again later.');
  });

  it('asks a query again after a 5xx', async () => {
    let n = 0;
    handler = () => (++n === 1 ? { status: 503, body: 'upstream connect error' } : { body: { data: { pod: pod() } } });
    expect((await compute().get('abc123xyz'))?.state).toBe('pending');
    expect(seen).toHaveLength(2);
  });

  it('lists myself.pods', async () => {
    handler = (s) => {
      expect(s.query).toMatch(/^query Pods \{ myself \{ pods \{ id name desiredStatus/);
      return { body: { data: { myself: { pods: [pod(), pod({ id: 'other', name: 'someone-else', desiredStatus: 'EXITED' })] } } } };
    };
    expect((await compute().list()).map((i) => [i.id, i.name, i.state])).toEqual([
      ['abc123xyz', 'dstack-abc-dev-0', 'pending'],
      ['other', 'someone-else', 'stopped'],
    ]);
  });

  it('terminates with podTerminate; a pod already gone counts as done', async () => {
    handler = (s) => {
      expect(s.query).toBe('mutation Terminate($input: PodTerminateInput!) { podTerminate(input: $input) }');
      expect(s.variables).toEqual({ input: { podId: 'abc123xyz' } });
      return { body: { data: { podTerminate: null } } };
    };
    await compute().terminate('abc123xyz');
    handler = () => ({
      body: { data: { podTerminate: null }, errors: [{ message: 'pod not found to terminate', path: ['podTerminate'] }] },
    });
    await compute().terminate('abc123xyz');
    handler = () => ({ body: { data: null, errors: [{ message: 'Variable "$input" got invalid value' }] } });
    await expect(compute().terminate('abc123xyz')).rejects.toThrow('runpod: request refused: Variable "$input" got invalid value');
  });

  it('checks the key with myself { id }: a 401 is the credentials', async () => {
    handler = (s) =>
      s.auth === 'Bearer rpa_good' ? { body: { data: { myself: { id: 'user_1' } } } } : { status: 401, body: 'Unauthorized' };
    await compute('rpa_good').check();
    expect(seen[0].query).toBe('query Myself { myself { id } }');
    const err = (await compute('rpa_bad')
      .check()
      .catch((e: Error) => e)) as CloudError;
    expect(err.kind).toBe('credentials');
    expect(err.message).toBe('runpod: credentials refused: HTTP 401 Unauthorized');
  });
});

describe('RunPod errors', () => {
  const inBody = (message: string, status = 200, code?: string) => ({
    status,
    body: { data: null, errors: [{ message, ...(code ? { extensions: { code } } : {}) }] },
    headers: new Headers(),
  });
  it('classifies errors in a 200 by RunPod’s words, and HTTP failures by status', () => {
    expect(classifyRunpod(inBody(NO_CAPACITY))).toBeInstanceOf(CloudNoCapacityError);
    expect(classifyRunpod(inBody('This machine does not have the resources to deploy your pod.'))).toBeInstanceOf(CloudNoCapacityError);
    const kinds = [
      [inBody('Unauthorized', 401), 'credentials'],
      [inBody('Not authenticated', 200, 'UNAUTHENTICATED'), 'credentials'],
      [inBody('Your balance is too low to deploy this pod.'), 'quota'],
      [inBody('pod not found to terminate'), 'not-found'],
      [inBody('Too many requests', 429), 'provider-down'],
      [inBody('Something went wrong. Please try again later.'), 'provider-down'],
      [inBody('Cannot query field "bogus" on type "Pod".', 400, 'GRAPHQL_VALIDATION_FAILED'), 'bad-request'],
      [inBody('gpuTypeId is not valid'), 'bad-request'],
      [{ status: 503, body: 'upstream connect error', headers: new Headers() }, 'provider-down'],
    ] as const;
    for (const [answer, kind] of kinds) expect((classifyRunpod(answer) as CloudError).kind, JSON.stringify(answer.body)).toBe(kind);
    expect(classifyRunpod({ status: 200, body: { data: { pod: null } }, headers: new Headers() })).toBeUndefined();
    expect(classifyRunpod({ status: 200, body: { data: { myself: { id: 'u' } }, errors: [] }, headers: new Headers() })).toBeUndefined();
  });
});

describe('RunPod network volumes', () => {
  const container = { image: 'img', command: ['/bin/sh', '-c', 'x'], sshPort: 10022, env: {}, diskGb: 10 };
  const nv = { id: 'vol123', name: 'dstack-abc-data', size: 50, dataCenterId: 'EU-RO-1' };

  it('makes, finds and deletes one with the operations dstack sends; a gone one is done', async () => {
    const c = compute();
    handler = (s) => {
      if (/createNetworkVolume/.test(s.query)) return { body: { data: { createNetworkVolume: nv } } };
      if (/networkVolumes/.test(s.query)) return { body: { data: { myself: { networkVolumes: [nv] } } } };
      if (/deleteNetworkVolume/.test(s.query)) return { body: { data: { deleteNetworkVolume: null } } };
      return { body: { data: null, errors: [{ message: 'unexpected' }] } };
    };
    const made = await c.volumes.create({ name: 'dstack-abc-data', region: 'EU-RO-1', sizeGb: 49.5 });
    expect(made).toEqual({ id: 'vol123', name: 'dstack-abc-data', region: 'EU-RO-1', sizeGb: 50, providerState: 'available' });
    expect(seen[0].query).toMatch(
      /^mutation CreateNetworkVolume\(\$input: CreateNetworkVolumeInput!\) \{ createNetworkVolume\(input: \$input\)/,
    );
    expect(seen[0].variables.input).toEqual({ name: 'dstack-abc-data', size: 50, dataCenterId: 'EU-RO-1' });
    expect(await c.volumes.get('vol123')).toMatchObject({ id: 'vol123', region: 'EU-RO-1' });
    expect(await c.volumes.get('other')).toBeNull();
    await c.volumes.delete('vol123');
    expect(seen.at(-1)!.variables.input).toEqual({ id: 'vol123' });
    handler = () => ({
      body: { data: { deleteNetworkVolume: null }, errors: [{ message: 'network volume not found', path: ['deleteNetworkVolume'] }] },
    });
    await expect(c.volumes.delete('vol123')).resolves.toBeUndefined();
    expect(c.volumes.mount).toBe('provider');
    expect(c.volumes.maxPerInstance).toBe(1);
  });

  it('deploys a pod with its volume: in the volume’s data center, mounted at the run’s path', async () => {
    handler = () => ({ body: { data: { podFindAndDeployOnDemand: pod() } } });
    const o = runpodOffers(TYPES)[0];
    const volume = { id: 'vol123', name: 'dstack-abc-data', region: 'EU-RO-1', sizeGb: 50, providerState: 'available' };
    await compute().create({ offer: o, name: 'n', sshPublicKey: '', container, volumes: [{ volume, path: '/data' }] });
    expect(seen[0].variables.input).toMatchObject({ networkVolumeId: 'vol123', volumeMountPath: '/data', dataCenterId: 'EU-RO-1' });
    await expect(
      compute().create({
        offer: o,
        name: 'n',
        sshPublicKey: '',
        container,
        volumes: [
          { volume, path: '/a' },
          { volume, path: '/b' },
        ],
      }),
    ).rejects.toThrow('runpod: a pod takes one network volume');
  });
});
