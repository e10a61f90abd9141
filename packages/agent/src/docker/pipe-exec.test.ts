// The user-namespace check that keeps container sessions off FIFOs where the session user's uid
// inside is another uid on the host (Docker's userns-remap): those sessions use the exec stream.
import { describe, expect, it } from 'vitest';
import { isIdentityUidMap } from './pipe-exec';

describe('isIdentityUidMap', () => {
  it.each([
    ['         0          0 4294967295\n', true],
    ['0 0 4294967295', true],
    ['         0     100000      65536\n', false],
    ['0 0 1000\n1000 1000 1\n', false],
    ['', false],
  ])('%j → %s', (text, want) => {
    expect(isIdentityUidMap(text)).toBe(want);
  });
});
