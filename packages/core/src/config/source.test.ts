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
