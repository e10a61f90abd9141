import { describe, expect, it } from 'vitest';
import { formatPrice, yesNo } from './format';

describe('formatPrice', () => {
  it.each([
    [0, '$0'],
    [0.11, '$0.11'],
    [0.214516, '$0.214516'],
    [0.0286, '$0.0286'],
    [1.5, '$1.5'],
    [12, '$12'],
    [0.1234567, '$0.123457'],
    [1234.5678, '$1234.57'],
  ])('%d dollars per hour is %s', (p, text) => {
    expect(formatPrice(p)).toBe(text);
  });

  it('says yes or no', () => {
    expect([yesNo(true), yesNo(false)]).toEqual(['yes', 'no']);
  });
});
