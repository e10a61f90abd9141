import { describe, expect, it } from 'vitest';
import { defaultResources } from '../resources/spec';
import { applyOverrides, OverrideError, type Overridable } from './source';

const base = (): Overridable => ({ resources: defaultResources(), spot_policy: 'on-demand', max_price: null });

describe('applyOverrides', () => {
  it('changes nothing without flags', () => {
    expect(applyOverrides(base(), {})).toEqual(base());
  });

  it('reads --gpu, --cpu, --memory and --disk with the resource grammar', () => {
    const out = applyOverrides(base(), { gpu: 'A100:80GB:2', cpu: 'x86:16', memory: '32GB..', disk: '200GB..1TB' });
    expect(out.resources.gpu).toMatchObject({ name: ['A100'], memory: { min: 80, max: 80 }, count: { min: 2, max: 2 } });
    expect(out.resources.cpu).toEqual({ arch: 'x86', count: { min: 16, max: 16 } });
    expect(out.resources.memory).toEqual({ min: 32, max: null });
    expect(out.resources.disk).toEqual({ size: { min: 200, max: 1024 } });
  });

  it('sets the price limit and the spot policy', () => {
    expect(applyOverrides(base(), { maxPrice: '0.5', spotPolicy: 'spot' })).toMatchObject({ max_price: 0.5, spot_policy: 'spot' });
    expect(applyOverrides(base(), { spotPolicy: 'auto' }).spot_policy).toBe('auto');
    expect(applyOverrides({ ...base(), spot_policy: 'spot' }, { spotPolicy: 'on-demand' }).spot_policy).toBe('on-demand');
  });

  it('does not touch the configuration it was given', () => {
    const cfg = base();
    applyOverrides(cfg, { gpu: '24GB', maxPrice: '1' });
    expect(cfg).toEqual(base());
  });

  it.each([
    ['gpu', 'A100:80GB:2:3', /^--gpu "A100:80GB:2:3": /],
    ['gpu', '', /^--gpu "": /],
    ['cpu', 'x86:arm', /^--cpu "x86:arm": .*architecture twice/],
    ['cpu', 'lots', /^--cpu "lots": /],
    ['memory', '8XB', /^--memory "8XB": /],
    ['memory', '16GB..8GB', /^--memory "16GB..8GB": /],
    ['disk', 'big', /^--disk "big": /],
    ['maxPrice', 'cheap', /^--max-price "cheap": expected dollars per hour/],
    ['maxPrice', '0', /^--max-price "0": /],
    ['maxPrice', '-1', /^--max-price "-1": /],
  ] as const)('rejects --%s %j naming the flag', (flag, value, message) => {
    let err: unknown;
    try {
      applyOverrides(base(), { [flag]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OverrideError);
    expect((err as Error).message).toMatch(message);
  });
});

describe("applyOverrides: apply's run flags", () => {
  const run = (): Overridable => ({
    ...base(),
    name: 'from-file',
    backends: null,
    regions: null,
    instance_types: null,
    fleets: null,
    retry: null,
    max_duration: 3600,
    idle_duration: null,
    creation_policy: 'reuse-or-create',
  });

  it('each replaces the key it names', () => {
    const out = applyOverrides(run(), {
      name: 'other-name',
      backends: ['local', 'ssh', 'local'],
      regions: ['us-east-1'],
      instanceTypes: ['gpu_1x_a10'],
      fleets: ['gpus'],
      maxDuration: '30s',
      idleDuration: '10m',
      creationPolicy: 'reuse',
    });
    expect(out).toMatchObject({
      name: 'other-name',
      backends: ['local', 'ssh'],
      regions: ['us-east-1'],
      instance_types: ['gpu_1x_a10'],
      fleets: ['gpus'],
      max_duration: 30,
      idle_duration: 600,
      creation_policy: 'reuse',
    });
  });

  it('reads `off` as the file does: max_duration none, idle_duration -1', () => {
    expect(applyOverrides(run(), { maxDuration: 'off', idleDuration: 'off' })).toMatchObject({ max_duration: null, idle_duration: -1 });
    expect(applyOverrides(run(), { maxDuration: '2h' }).max_duration).toBe(7200);
  });

  it("--retry keeps the file's retry or turns on every event for 1h; --no-retry turns it off; --retry-duration sets the duration", () => {
    expect(applyOverrides(run(), { retry: true }).retry).toEqual({ on_events: ['no-capacity', 'interruption', 'error'], duration: 3600 });
    const file = { ...run(), retry: { on_events: ['no-capacity' as const], duration: 7200 } };
    expect(applyOverrides(file, { retry: true }).retry).toEqual({ on_events: ['no-capacity'], duration: 7200 });
    expect(applyOverrides(file, { retry: false }).retry).toBeNull();
    expect(applyOverrides(file, { retryDuration: '30m' }).retry).toEqual({ on_events: ['no-capacity'], duration: 1800 });
    expect(applyOverrides(run(), { retryDuration: '4h' }).retry).toEqual({
      on_events: ['no-capacity', 'interruption', 'error'],
      duration: 14400,
    });
    expect(applyOverrides(file, {}).retry).toEqual(file.retry);
  });

  it.each([
    [{ name: 'Bad Name' }, /^--name "Bad Name": /],
    [{ backends: ['nope'] }, /^--backend "nope": not a backend/],
    [{ backends: [] }, /^--backend "": expected a name/],
    [{ fleets: ['a/b'] }, /^--fleet "a\/b": /],
    [{ maxDuration: 'soon' }, /^--max-duration "soon": invalid duration/],
    [{ idleDuration: '1y' }, /^--idle-duration "1y": invalid duration/],
    [{ retryDuration: '-1' }, /^--retry-duration "-1": invalid duration/],
    [{ creationPolicy: 'always' }, /^creation policy "always": use reuse or reuse-or-create$/],
    [{ spotPolicy: 'cheap' }, /^--spot-policy "cheap": /],
  ])('rejects %j naming the flag', (values, message) => {
    expect(() => applyOverrides(run(), values)).toThrow(OverrideError);
    expect(() => applyOverrides(run(), values)).toThrow(message);
  });
});
