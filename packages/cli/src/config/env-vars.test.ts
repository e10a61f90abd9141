import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { EnvValueError, resolveEnv } from '@dstack/core/config/source';
import { ReportedError, UsageError } from '../errors';
import { EnvFileError, envFlags, parseEnvFile, parseEnvFlags } from './env-vars';

describe('parseEnvFlags', () => {
  it('reads KEY=VALUE and KEY, keeping = and spaces in values', () => {
    expect(parseEnvFlags(['A=1', 'B', 'C=x=y', 'D=', 'E= spaced '])).toEqual([
      { name: 'A', value: '1', secret: false },
      { name: 'B', value: null, secret: true },
      { name: 'C', value: 'x=y', secret: false },
      { name: 'D', value: '', secret: false },
      { name: 'E', value: ' spaced ', secret: false },
    ]);
  });

  it.each(['1A=x', '=x', 'A-B=1', '', 'A B'])('rejects %j naming -e', (v) => {
    expect(() => parseEnvFlags([v])).toThrow(UsageError);
    expect(() => parseEnvFlags([v])).toThrow(/^-e /);
  });
});

describe('resolveEnv (in the daemon) with the flags read here', () => {
  it('takes values of entries listed without one from the shell, as secrets', () => {
    const r = resolveEnv({ HF_TOKEN: null, MODE: 'fast' }, [], { HF_TOKEN: 'hf_123' });
    expect(r.env).toEqual({ HF_TOKEN: null, MODE: 'fast' });
    expect(r.secretEnv).toEqual({ HF_TOKEN: 'hf_123' });
  });

  it('prefers -e over the shell; -e KEY reads the shell, and its value is a secret (it is on no command line)', () => {
    expect(resolveEnv({ HF_TOKEN: null }, parseEnvFlags(['HF_TOKEN=from-flag']), { HF_TOKEN: 'shell' }).secretEnv).toEqual({
      HF_TOKEN: 'from-flag',
    });
    const r = resolveEnv({ MODE: 'fast' }, parseEnvFlags(['EXTRA', 'MODE']), { EXTRA: 'e', MODE: 'from-shell' });
    expect(r.env).toEqual({ EXTRA: null, MODE: null });
    expect(r.secretEnv).toEqual({ EXTRA: 'e', MODE: 'from-shell' });
  });

  it('makes every value of an env file a secret', () => {
    const r = resolveEnv({ MODE: 'fast' }, parseEnvFile('vars.env', 'TOKEN=t0k\nMODE=slow\n', {}), {});
    expect(r.env).toEqual({ MODE: null, TOKEN: null });
    expect(r.secretEnv).toEqual({ TOKEN: 't0k', MODE: 'slow' });
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
    expect(err).toBeInstanceOf(EnvValueError);
    expect((err as Error).message).toBe(
      'no value for env ALSO, HF_TOKEN, WANDB_KEY: set them in your environment or an --env-file (or pass -e NAME=VALUE, which ps shows)',
    );
  });

  it('accepts an empty value from the shell', () => {
    expect(resolveEnv({ EMPTY: null }, [], { EMPTY: '' }).secretEnv).toEqual({ EMPTY: '' });
  });
});

describe("parseEnvFile (Docker's --env-file format)", () => {
  it('reads KEY=VALUE as is, KEY from the environment, and skips comments and blank lines', () => {
    const text =
      '\uFEFF# tokens\n\nHF_TOKEN=hf_abc\n  INDENTED=x\nQUOTED="kept" \nEQ=a=b\nEMPTY=\nFROM_SHELL\r\nCRLF=v\r\n   # indented comment\n';
    expect(parseEnvFile('vars.env', text, { FROM_SHELL: 'shell value' })).toEqual([
      { name: 'HF_TOKEN', value: 'hf_abc', secret: true },
      { name: 'INDENTED', value: 'x', secret: true },
      { name: 'QUOTED', value: '"kept" ', secret: true },
      { name: 'EQ', value: 'a=b', secret: true },
      { name: 'EMPTY', value: '', secret: true },
      { name: 'FROM_SHELL', value: 'shell value', secret: true },
      { name: 'CRLF', value: 'v', secret: true },
    ]);
  });

  it.each([
    ['OK=1\n=value-s3cret\n', 'vars.env:2: no variable name before "="'],
    ['OK=1\n\n9BAD=s3cret\n', 'vars.env:3: "9BAD" is not a variable name: letters, digits and _, not starting with a digit'],
    ['A B=s3cret\n', 'vars.env:1: "A B" is not a variable name: letters, digits and _, not starting with a digit'],
    ['A-B=s3cret\n', 'vars.env:1: "A-B" is not a variable name: letters, digits and _, not starting with a digit'],
    ['# c\nNOT_SET_ANYWHERE\n', 'vars.env:2: NOT_SET_ANYWHERE has no value here and is not set in your environment'],
  ])('refuses %j at FILE:LINE, never quoting a value', (text, message) => {
    let err: unknown;
    try {
      parseEnvFile('vars.env', text, {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EnvFileError);
    expect((err as Error).message).toBe(message);
    expect((err as Error).message).not.toContain('s3cret');
  });
});

describe('envFlags', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-env-file-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the env files in order, then -e: later ones win', () => {
    writeFileSync(join(dir, 'a.env'), 'A=1\nB=from-a\n');
    writeFileSync(join(dir, 'b.env'), 'B=from-b\nC=3\n');
    const flags = envFlags({ envFile: [join(dir, 'a.env'), join(dir, 'b.env')], env: ['C=typed'] }, {});
    expect(resolveEnv({}, flags, {})).toEqual({ env: { A: null, B: null, C: 'typed' }, secretEnv: { A: '1', B: 'from-b' } });
  });

  it('names the flag for a file it cannot read (exit 2), and prints FILE:LINE for a bad line (exit 1)', () => {
    expect(() => envFlags({ envFile: [join(dir, 'none.env')] })).toThrow(
      new UsageError(`--env-file "${join(dir, 'none.env')}": no such file`),
    );
    writeFileSync(join(dir, 'bad.env'), 'A=1\nB C=2\n');
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(() => envFlags({ envFile: [join(dir, 'bad.env')] })).toThrow(ReportedError);
      expect(stderr).toHaveBeenCalledWith(
        `${join(dir, 'bad.env')}:2: "B C" is not a variable name: letters, digits and _, not starting with a digit\n`,
      );
    } finally {
      stderr.mockRestore();
    }
  });
});
