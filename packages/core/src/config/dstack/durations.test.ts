// dstack: src/tests/_internal/core/models/test_duration.py. Duration is `retry.duration`,
// OptionalOffableDuration `max_duration` (also `inactivity_duration`), OptionalIdleDuration
// `idle_duration`; the normalized configuration holds seconds (off: null; idle off: -1).
import { describe } from 'vitest';
import { toJson } from '../output';
import type { DevEnvironmentConfiguration as Dev } from '../types';
import { accepts, refuses } from './cases';

const T = 'test_duration.py';
const retry = (d: string) => `retry:\n  duration: ${d}`;

describe('dstack test_duration.py: Duration (retry.duration)', () => {
  accepts<Dev>(
    (
      [
        ['int', '90', 90],
        ['numeric-string', '"90"', 90],
        ['float-truncates', '1.9', 1],
        ['seconds', '30s', 30],
        ['minutes', '5m', 300],
        ['hours', '2h', 7200],
        ['space-before-unit', '2 h', 7200],
        ['days', '1d', 86_400],
        ['weeks', '1w', 604_800],
      ] as const
    ).map(([id, v, want]) => ({
      from: `${T}::TestDuration::test_parses_seconds_and_shorthands[${id}]`,
      yaml: retry(v),
      get: (c: Dev) => c.retry?.duration,
      want,
    })),
  );
  refuses(
    (
      [
        ['not-a-duration', 'bogus', '"bogus"'],
        ['unsupported-unit', '2y', '"2y"'],
        ['unit-before-amount', 'h2', '"h2"'],
        ['empty', '""', '""'],
      ] as const
    ).map(([id, v, quote]) => ({
      from: `${T}::TestDuration::test_rejects_unparsable[${id}]`,
      yaml: retry(v),
      error: /retry.duration: invalid duration/,
      quote,
    })),
  );
  accepts<Dev>([
    {
      from: `${T}::TestDuration::test_serializes_as_seconds`,
      yaml: retry('2h'),
      get: (c) => (toJson(c) as { retry: { duration: unknown } }).retry.duration,
      want: 7200,
    },
  ]);
});

describe('dstack test_duration.py: OptionalOffableDuration (max_duration)', () => {
  accepts<Dev>(
    (
      [
        ['shorthand', 'max_duration: 2h', 7200],
        ['seconds', 'max_duration: 7200', 7200],
        ['off-string', 'max_duration: "off"', null],
        ['false-means-off', 'max_duration: false', null],
        ['true-means-default', 'max_duration: true', null],
        ['unspecified', 'max_duration:', null],
      ] as const
    ).map(([id, yaml, want]) => ({
      from: `${T}::TestOptionalOffableDuration::test_normalizes[${id}]`,
      yaml,
      get: (c: Dev) => c.max_duration,
      want,
    })),
  );
  refuses(
    (
      [
        ['-1', 'max_duration: -1', 'invalid duration -1'],
        ['-300', 'max_duration: -300', 'invalid duration -300'],
        ['"-1"', 'max_duration: "-1"', '"-1"'],
      ] as const
    ).map(([id, yaml, quote]) => ({
      from: `${T}::TestOptionalOffableDuration::test_rejects_negative[${id}]`,
      yaml,
      error: /max_duration: invalid duration/,
      quote,
    })),
  );
});

describe('dstack test_duration.py: OptionalIdleDuration (idle_duration)', () => {
  accepts<Dev>([
    ...(
      [
        ['shorthand', 'idle_duration: 5m', 300],
        ['seconds', 'idle_duration: 300', 300],
        ['off-string', 'idle_duration: "off"', -1],
        ['false-means-off', 'idle_duration: false', -1],
        ['true-means-default', 'idle_duration: true', null],
        ['unspecified', 'idle_duration:', null],
      ] as const
    ).map(([id, yaml, want]) => ({
      from: `${T}::TestOptionalIdleDuration::test_normalizes[${id}]`,
      yaml,
      get: (c: Dev) => c.idle_duration,
      want,
    })),
    ...(
      [
        ['minus-one', 'idle_duration: -1'],
        ['other-negative', 'idle_duration: -300'],
        ['minus-one-string', 'idle_duration: "-1"'],
      ] as const
    ).map(([id, yaml]) => ({
      from: `${T}::TestOptionalIdleDuration::test_accepts_negative_for_backward_compatibility[${id}]`,
      yaml,
      get: (c: Dev) => c.idle_duration,
      // dstack keeps the negative number; any negative means off, which dstack-ts stores as -1.
      want: -1,
    })),
  ]);
});
