import { describe, expect, it } from 'vitest';
import { UsageError, UserError } from './errors';
import { parseEnvFlags, resolveEnv } from './env-vars';

describe('parseEnvFlags', () => {
  it('reads KEY=VALUE and KEY, keeping = and spaces in values', () => {
    expect(parseEnvFlags(['A=1', 'B', 'C=x=y', 'D=', 'E= spaced '])).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: null },
      { name: 'C', value: 'x=y' },
      { name: 'D', value: '' },
      { name: 'E', value: ' spaced ' },
    ]);
  });

  it.each(['1A=x', '=x', 'A-B=1', '', 'A B'])('rejects %j naming -e', (v) => {
    expect(() => parseEnvFlags([v])).toThrow(UsageError);
    expect(() => parseEnvFlags([v])).toThrow(/^-e /);
  });
});

describe('resolveEnv', () => {
  it('takes values of entries listed without one from the shell, as secrets', () => {
    const r = resolveEnv({ HF_TOKEN: null, MODE: 'fast' }, [], { HF_TOKEN: 'hf_123' });
    expect(r.env).toEqual({ HF_TOKEN: null, MODE: 'fast' });
    expect(r.secretEnv).toEqual({ HF_TOKEN: 'hf_123' });
  });

  it('prefers -e over the shell, and -e KEY reads the shell', () => {
    expect(resolveEnv({ HF_TOKEN: null }, parseEnvFlags(['HF_TOKEN=from-flag']), { HF_TOKEN: 'shell' }).secretEnv).toEqual({
      HF_TOKEN: 'from-flag',
    });
    const r = resolveEnv({}, parseEnvFlags(['EXTRA']), { EXTRA: 'e' });
    expect(r.env).toEqual({ EXTRA: 'e' });
    expect(r.secretEnv).toEqual({});
  });

  it('lets -e override or add plain values', () => {
    const r = resolveEnv({ MODE: 'fast' }, parseEnvFlags(['MODE=slow', 'NEW=1']), {});
    expect(r.env).toEqual({ MODE: 'slow', NEW: '1' });
  });

  it('fails naming every variable without a value, before anything else', () => {
    let err: unknown;
    try {
      resolveEnv({ HF_TOKEN: null, WANDB_KEY: null, OK: 'x', SET: null }, parseEnvFlags(['ALSO']), { SET: 's' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).exitCode).toBe(1);
    expect((err as Error).message).toBe(
      'no value for env ALSO, HF_TOKEN, WANDB_KEY: pass each with -e NAME=VALUE or set them in your environment',
    );
  });

  it('accepts an empty value from the shell', () => {
    expect(resolveEnv({ EMPTY: null }, [], { EMPTY: '' }).secretEnv).toEqual({ EMPTY: '' });
  });
});
