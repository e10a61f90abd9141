import { describe, expect, it } from 'vitest';
import { formatBytes, formatSize } from './bytes';

describe('formatBytes (amounts moved, decimal)', () => {
  it.each([
    [0, '0 B'],
    [999, '999 B'],
    [1000, '1.0 KB'],
    [12_345_678, '12.3 MB'],
    [2.5e12, '2.5 TB'],
  ])('%d → %s', (n, text) => expect(formatBytes(n)).toBe(text));
});

describe('formatSize (configured sizes, powers of 1024 as the grammar counts)', () => {
  it.each([
    [512, '512B'],
    [1024, '1.0KB'],
    [1024 ** 2, '1.0MB'],
    [2 * 1024 ** 2 + 1, '2.0MB'],
    [1024 ** 3, '1.0GB'],
    [1024 ** 5, '1024.0TB'],
  ])('%d → %s', (n, text) => expect(formatSize(n)).toBe(text));
});
