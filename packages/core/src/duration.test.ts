import { describe, expect, it } from 'vitest';
import { DurationError, formatDuration, formatDurationHuman, parseDuration, parseIdleDuration, parseOffDuration } from './duration';

describe('parseDuration', () => {
  it.each([
    [0, 0],
    [90, 90],
    ['90', 90],
    ['45s', 45],
    ['90m', 5400],
    ['2h', 7200],
    ['1d', 86_400],
    ['2w', 1_209_600],
    ['2 h', 7200],
    [' 3h ', 10_800],
    [1.9, 1],
  ])('%j → %d seconds', (input, seconds) => {
    expect(parseDuration(input)).toBe(seconds);
  });

  it.each([['2x'], ['h'], ['1.5h'], ['-5'], [-5], [-1.5], ['2hours'], ['off'], [true], [null], [[1]]])('rejects %j', (input) => {
    expect(() => parseDuration(input)).toThrow(DurationError);
  });
});

describe('off and idle durations', () => {
  it.each([
    ['off', 'off'],
    [false, 'off'],
    [true, null],
    [null, null],
    ['1h', 3600],
  ])('parseOffDuration(%j) → %j', (input, expected) => {
    expect(parseOffDuration(input)).toBe(expected);
  });

  it.each([
    ['off', -1],
    [false, -1],
    [true, null],
    ['5m', 300],
    [0, 0],
  ])('parseIdleDuration(%j) → %j', (input, expected) => {
    expect(parseIdleDuration(input)).toBe(expected);
  });
});

describe('formatDuration', () => {
  it.each([
    [7200, '2h'],
    [5400, '90m'],
    [86_400, '1d'],
    [604_800, '1w'],
    [45, '45s'],
    [0, '0s'],
    [3601, '3601s'],
  ])('%d → %s, which parses back', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each([
    [154, '2m 34s'],
    [3900, '1h 5m'],
    [266_400, '3d 2h'],
    [45, '45s'],
    [0, '0s'],
    [3600, '1h'],
  ])('human %d → %s', (seconds, text) => {
    expect(formatDurationHuman(seconds)).toBe(text);
  });
});
