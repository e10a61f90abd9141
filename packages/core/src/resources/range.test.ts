import { describe, expect, it } from 'vitest';
import { GrammarError } from './errors';
import { formatGB, parseMemory, parseMemoryRange } from './memory';
import { formatRange, formatRangeExplicit, inRange, parseCountRange } from './range';

describe('count ranges', () => {
  it.each([
    [2, { min: 2, max: 2 }],
    ['2', { min: 2, max: 2 }],
    ['2..8', { min: 2, max: 8 }],
    ['2..', { min: 2, max: null }],
    ['..8', { min: null, max: 8 }],
    [' 2 .. 8 ', { min: 2, max: 8 }],
    ['0..0', { min: 0, max: 0 }],
    [
      { min: 1, max: 4 },
      { min: 1, max: 4 },
    ],
    [{ min: 1 }, { min: 1, max: null }],
  ])('%j → %j', (input, range) => {
    expect(parseCountRange(input)).toEqual(range);
  });

  it.each([
    ['..', /empty/],
    ['8..2', /range order "8\.\.2"/],
    ['1..2..3', /write MIN\.\.MAX/],
    ['two', /invalid count "two"/],
    [-1, /whole number ≥ 0/],
    [1.5, /whole number/],
    ['2.5..', /invalid count "2.5"/],
    [[1, 2], /got a list/],
    [{}, /empty/],
  ])('rejects %j', (input, message) => {
    expect(() => parseCountRange(input)).toThrow(GrammarError);
    expect(() => parseCountRange(input)).toThrow(message);
  });
});

describe('memory sizes', () => {
  it.each([
    [24, 24],
    ['24', 24],
    ['24GB', 24],
    ['24gb', 24],
    ['24 GB', 24],
    ['1TB', 1024],
    ['1.5tb', 1536],
    ['512MB', 0.5],
    ['0.5GB', 0.5],
    ['.5GB', 0.5],
  ])('%j → %d GB', (input, gb) => {
    expect(parseMemory(input)).toBe(gb);
  });

  it.each([['24GiB'], ['24 G'], ['GB'], ['-1GB'], [-1], ['24KB'], [true], [Infinity]])('rejects %j', (input) => {
    expect(() => parseMemory(input)).toThrow(GrammarError);
  });

  it.each([
    ['24GB..80GB', { min: 24, max: 80 }],
    ['24GB..', { min: 24, max: null }],
    ['..80GB', { min: null, max: 80 }],
    ['512MB..1TB', { min: 0.5, max: 1024 }],
    ['8GB', { min: 8, max: 8 }],
  ])('range %j → %j', (input, range) => {
    expect(parseMemoryRange(input)).toEqual(range);
  });

  it('rejects a reversed size range, comparing in GB', () => {
    expect(() => parseMemoryRange('1TB..512GB')).toThrow(/order "1TB\.\.512GB"/);
  });
});

describe('formatting ranges', () => {
  it.each([
    [{ min: 2, max: 2 }, '2', '2..2'],
    [{ min: 2, max: null }, '2..', '2..'],
    [{ min: null, max: 8 }, '..8', '..8'],
    [{ min: 2, max: 8 }, '2..8', '2..8'],
  ])('%j → %s / %s', (r, short, explicit) => {
    expect(formatRange(r)).toBe(short);
    expect(formatRangeExplicit(r)).toBe(explicit);
  });

  it('formats sizes like dstack (%g GB)', () => {
    expect(formatRange({ min: 24, max: 24 }, formatGB)).toBe('24GB');
    expect(formatRange({ min: 0.5, max: null }, formatGB)).toBe('0.5GB..');
    expect(formatRangeExplicit({ min: 24, max: 24 }, formatGB)).toBe('24GB..24GB');
  });

  it('tests membership with open ends', () => {
    expect(inRange(5, { min: 2, max: null })).toBe(true);
    expect(inRange(1, { min: 2, max: null })).toBe(false);
    expect(inRange(9, { min: null, max: 8 })).toBe(false);
    expect(inRange(8, { min: 2, max: 8 })).toBe(true);
  });
});
