import { describe, expect, it } from 'vitest';
import { Offer } from '@dstack/core/gen/daemon';
import { CloudBackend } from './cloud-backend';
import type { Compute } from './compute';
import { cloudError } from './cloud-error';

/** A Compute whose offers() is what the test says; nothing else is called here. */
function backend(offers: () => Promise<Offer[]>, opts: { regions?: string[] | null } = {}) {
  let calls = 0;
  const compute = {
    offers: () => {
      calls++;
      return offers();
    },
  } as unknown as Compute;
  const b = new CloudBackend({
    type: 'lambda',
    compute,
    namePrefix: 'dstack-test-',
    regions: opts.regions ?? null,
    identityFile: '/nonexistent',
    hostKeys: { knownTypes: async () => [], verify: async () => ({ status: 'unknown' }) },
    offersDeadlineMs: 50,
    offersTtlMs: 60_000,
  });
  return { b, calls: () => calls };
}

const offer = (region: string) => Offer.fromPartial({ backend: 'lambda', region, instanceType: 'gpu_1x_a10', price: 0.75 });

describe('CloudBackend offers', () => {
  it('caches the catalog, narrowed to the entry’s regions', async () => {
    const { b, calls } = backend(async () => [offer('us-east-1'), offer('us-west-1')], { regions: ['us-west-1'] });
    expect((await b.offers()).offers.map((o) => o.region)).toEqual(['us-west-1']);
    expect((await b.offers()).offers.map((o) => o.region)).toEqual(['us-west-1']);
    expect(calls()).toBe(1);
  });

  it('leaves a slow provider out of the plan after the deadline, saying why', async () => {
    const { b } = backend(() => new Promise<Offer[]>(() => {}));
    expect(await b.offers()).toEqual({
      offers: [],
      reasons: ['lambda: no answer within 0.05s; its offers are left out of this plan'],
      error: 'lambda: no answer within 0.05s; its offers are left out of this plan',
    });
  });

  it('does not keep a failed fetch: the next plan asks again', async () => {
    let fail = true;
    const { b, calls } = backend(async () => {
      if (fail) throw cloudError('lambda', 'credentials', 'API key was invalid, expired, or deleted.', 401);
      return [offer('us-east-1')];
    });
    expect((await b.offers()).error).toBe('lambda: credentials refused: API key was invalid, expired, or deleted.');
    fail = false;
    await new Promise((r) => setTimeout(r, 0));
    expect((await b.offers()).offers).toHaveLength(1);
    expect(calls()).toBe(2);
  });
});

describe('CloudBackend idle instances (idle_duration)', () => {
  const kept = (idleUntilMs: number) => ({
    instanceId: 'i-1',
    name: 'dstack-test-a-0',
    backend: 'lambda',
    region: 'us-east-1',
    price: 0.75,
    offer: offer('us-east-1'),
    agent: { dataDir: '/root/.dstack-agent', binPath: '', socketPath: '', logFile: '' },
    reusable: false,
    data: { ip: '10.0.0.2', idleUntilMs },
  });
  function idleBackend() {
    let idle = [kept(1000)];
    const compute = {
      offers: async () => [offer('us-east-1')],
      get: async (id: string) => ({
        id,
        name: 'dstack-test-a-0',
        state: 'running',
        providerState: 'active',
        ip: '10.0.0.2',
        sshPort: 22,
        sshUser: 'root',
        region: 'us-east-1',
      }),
    } as unknown as Compute;
    const b = new CloudBackend({
      type: 'lambda',
      compute,
      namePrefix: 'dstack-test-',
      regions: null,
      identityFile: '/nonexistent',
      hostKeys: { knownTypes: async () => [], verify: async () => ({ status: 'unknown' }) },
      idleInstances: () => idle,
    });
    return { b, setIdle: (v: ReturnType<typeof kept>[]) => (idle = v) };
  }
  const req = (o: Offer) => ({ offer: o, name: 'b-0', sshPublicKey: 'ssh-ed25519 AAAA' });

  it('offers a kept instance first; one run claims it, a second is refused until its next idle spell', async () => {
    const { b, setIdle } = idleBackend();
    const [first] = (await b.offers()).offers;
    expect(first.instanceName).toBe('dstack-test-a-0');
    const got = await b.createInstance(req(first));
    expect(got.instanceId).toBe('i-1');
    expect(got.data).toEqual({ ip: '10.0.0.2' }); // no longer idle
    expect((await b.offers()).offers.map((o) => o.instanceName)).toEqual(['']); // claimed: not offered
    await expect(b.createInstance(req(first))).rejects.toThrow('lambda: idle instance dstack-test-a-0 is taken or gone');
    // The run that had it ended and kept it idle again: a new spell, offered again.
    setIdle([kept(2000)]);
    expect((await b.offers()).offers[0].instanceName).toBe('dstack-test-a-0');
  });
});

describe('CloudBackend waiting for a new instance', () => {
  /** A Compute whose get() answers with `polls` in turn (a function: throws or hangs), the last one again and again. */
  function booting(polls: (() => Promise<unknown>)[]) {
    const terminated: string[] = [];
    let n = 0;
    const compute = {
      list: async () => [],
      create: async () => 'i-9',
      get: () => polls[Math.min(n++, polls.length - 1)](),
      terminate: async (id: string) => {
        terminated.push(id);
      },
    } as unknown as Compute;
    const b = new CloudBackend({
      type: 'lambda',
      compute,
      namePrefix: 'dstack-test-',
      regions: null,
      identityFile: '/nonexistent',
      hostKeys: { knownTypes: async () => [], verify: async () => ({ status: 'unknown' }) },
      bootDeadlineMs: 600,
      pollMs: 50,
    });
    return { b, terminated, polls: () => n };
  }
  const req = { offer: offer('us-east-1'), name: 'c-0', sshPublicKey: 'ssh-ed25519 AAAA' };
  const booted = async () => ({
    id: 'i-9',
    name: 'dstack-test-c-0',
    state: 'pending',
    providerState: 'booting',
    ip: '',
    sshPort: 22,
    sshUser: 'root',
    region: 'us-east-1',
  });
  const timedOut = async () => {
    throw cloudError('lambda', 'provider-down', 'no answer within 20s');
  };
  const hangs = () => new Promise(() => {});

  it('keeps polling through timeouts and 5xx, then gives up at the deadline, terminates the instance and says why', async () => {
    const { b, terminated, polls } = booting([
      timedOut,
      async () => Promise.reject(cloudError('lambda', 'provider-down', 'Service unavailable', 503)),
      booted,
    ]);
    await expect(b.createInstance(req)).rejects.toThrow(
      /^lambda: instance dstack-test-c-0 did not answer SSH within 1s \(last: booting\); it was terminated$/,
    );
    expect(polls()).toBeGreaterThan(3);
    expect(terminated).toEqual(['i-9']);
  });

  // The poll never answers: that createInstance settles at all is what this shows.
  it('a poll that never answers cannot hold the wait past the deadline', async () => {
    const { b, terminated } = booting([booted, hangs]);
    await expect(b.createInstance(req)).rejects.toThrow(
      /did not answer SSH within 1s \(last: lambda: provider unavailable: lambda: no answer about instance dstack-test-c-0 before the boot deadline\); it was terminated/,
    );
    expect(terminated).toEqual(['i-9']);
  });
});
