import { describe, expect, it } from 'vitest';
import { formatDurationMultiunit, parseSince, prettyDate } from './time-format';

const NOW = Date.UTC(2025, 5, 15, 12, 0, 0);
const ago = (s: number) => NOW - s * 1000;

describe('prettyDate', () => {
  it.each([
    [0, 'now'],
    [9, 'now'],
    [10, '10 sec ago'],
    [59, '59 sec ago'],
    [60, '1 min ago'],
    [119, '1 min ago'],
    [120, '2 mins ago'],
    [8 * 60, '8 mins ago'],
    [8 * 60 + 29, '8 mins ago'],
    [8 * 60 + 31, '9 mins ago'],
    [150, '2 mins ago'], // 2.5 rounds to even, as Python's round()
    [210, '4 mins ago'], // 3.5 rounds to even
    [3599, '60 mins ago'],
    [3600, '1 hour ago'],
    [7200, '2 hours ago'],
    [23 * 3600, '23 hours ago'],
    [86_400, 'yesterday'],
    [3 * 86_400, '3 days ago'],
    [7 * 86_400, '1 week ago'],
    [14 * 86_400, '2 weeks ago'],
    [60 * 86_400, '2 months ago'],
    [400 * 86_400, '1 year ago'],
    [800 * 86_400, '2 years ago'],
  ])('%i seconds ago reads %s', (s, text) => {
    expect(prettyDate(ago(s), NOW)).toBe(text);
  });

  it('is empty for no time or a time in the future', () => {
    expect(prettyDate(0, NOW)).toBe('');
    expect(prettyDate(NOW + 5000, NOW)).toBe('');
  });
});

describe('formatDurationMultiunit', () => {
  it.each([
    [0, '0s'],
    [5, '5s'],
    [60, '1m'],
    [90, '1m 30s'],
    [154, '2m 34s'],
    [3600, '1h'],
    [4545, '1h 15m 45s'],
    [86_400 + 1, '1d 1s'],
    [8 * 86_400, '1w 1d'],
    [154.9, '2m 34s'],
    [-3, '0s'],
  ])('%d seconds is %s', (s, text) => {
    expect(formatDurationMultiunit(s)).toBe(text);
  });
});

describe('parseSince', () => {
  it.each([
    ['30s', 30],
    ['10m', 600],
    ['2h', 7200],
    ['1d', 86_400],
    ['1w', 7 * 86_400],
  ])('%s goes back from now', (v, s) => {
    expect(parseSince(v, NOW)).toBe(NOW - s * 1000);
  });

  it('reads ISO date-times and epoch seconds', () => {
    expect(parseSince('2025-06-15T11:00:00Z', NOW)).toBe(NOW - 3_600_000);
    expect(parseSince('1750000000', NOW)).toBe(1_750_000_000_000);
  });

  it.each(['', 'soon', '10 minutes', '-5m', '2025-13-45T99:00:00Z'])('rejects %j and says what is accepted', (v) => {
    expect(() => parseSince(v, NOW)).toThrow(/duration back from now .* ISO date-time/);
  });
});
