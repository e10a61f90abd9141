import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors';
import { overridesOf } from './overrides';

describe('overridesOf', () => {
  it('sends the flags as typed, empty where not given', () => {
    expect(overridesOf({ gpu: 'A100:80GB:2', maxPrice: '0.5', spot: true })).toEqual({
      gpu: 'A100:80GB:2',
      cpu: '',
      memory: '',
      disk: '',
      maxPrice: '0.5',
      spotPolicy: 'spot',
    });
    expect(overridesOf({}, 'auto').spotPolicy).toBe('auto');
    expect(overridesOf({ onDemand: true }, 'auto').spotPolicy).toBe('on-demand');
  });

  it.each([
    [{ gpu: 'A100:80GB:2:3' }, /^--gpu "A100:80GB:2:3": /],
    [{ gpu: '' }, /^--gpu "": /],
    [{ memory: '16GB..8GB' }, /^--memory "16GB..8GB": /],
    [{ maxPrice: '0' }, /^--max-price "0": /],
    [{ spot: true, onDemand: true }, /exclude each other/],
  ])('refuses %j before the daemon is asked, as a usage error', (flags, message) => {
    let err: unknown;
    try {
      overridesOf(flags);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(message);
  });
});
