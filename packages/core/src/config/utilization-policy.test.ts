// `utilization_policy` as dstack's UtilizationPolicy reads it (dstack:
// src/dstack/_internal/core/models/profiles.py): min_gpu_utilization a percent 0..100, time_window a
// duration of at least 5m, both required; written back by toYaml, set by a profile.
import { describe, expect, it } from 'vitest';
import { parseNormalizedConfiguration } from './normalized';
import { toYaml } from './output';
import { pickProfile } from './profiles';
import { dev, parseErrors } from './test-helpers';

describe('utilization_policy', () => {
  it.each<[string, unknown]>([
    ['utilization_policy:\n  min_gpu_utilization: 10\n  time_window: 5m', { min_gpu_utilization: 10, time_window: 300 }],
    ['utilization_policy:\n  min_gpu_utilization: 0\n  time_window: 1h', { min_gpu_utilization: 0, time_window: 3600 }],
    ['utilization_policy:\n  min_gpu_utilization: 100\n  time_window: 600', { min_gpu_utilization: 100, time_window: 600 }],
    ['utilization_policy: {min_gpu_utilization: 30, time_window: "30m"}', { min_gpu_utilization: 30, time_window: 1800 }],
    ['', null],
    ['utilization_policy:', null],
  ])('%j', (body, want) => {
    expect(dev(body).utilization_policy).toEqual(want);
  });

  it.each<[string, RegExp]>([
    ['utilization_policy:\n  min_gpu_utilization: 10\n  time_window: 4m', /time_window "4m" is too short: the minimum is 5m/],
    ['utilization_policy:\n  min_gpu_utilization: 10\n  time_window: 299', /time_window 299 is too short: the minimum is 5m/],
    [
      'utilization_policy:\n  min_gpu_utilization: 101\n  time_window: 5m',
      /invalid min_gpu_utilization 101: use a whole percent from 0 to 100/,
    ],
    ['utilization_policy:\n  min_gpu_utilization: -1\n  time_window: 5m', /invalid min_gpu_utilization -1/],
    ['utilization_policy:\n  min_gpu_utilization: 10.5\n  time_window: 5m', /invalid min_gpu_utilization 10.5/],
    ['utilization_policy:\n  min_gpu_utilization: "10"\n  time_window: 5m', /invalid min_gpu_utilization "10"/],
    ['utilization_policy:\n  time_window: 5m', /missing required key `min_gpu_utilization`/],
    ['utilization_policy:\n  min_gpu_utilization: 10', /missing required key `time_window`/],
    ['utilization_policy:\n  min_gpu_utilization: 10\n  time_window: soon', /invalid duration "soon"/],
    ['utilization_policy:\n  min_gpu_utilization: 10\n  time_window: 5m\n  max_gpu_utilization: 90', /unknown key `max_gpu_utilization`/],
    ['utilization_policy: 10', /expected a mapping \{min_gpu_utilization, time_window\}, got 10/],
  ])('refuses %j', (body, error) => {
    const errors = parseErrors(`type: dev-environment\n${body}\n`);
    expect(errors.map((e) => e.message).join('\n')).toMatch(error);
  });

  it('points at the bad value', () => {
    const [e] = parseErrors('type: dev-environment\nutilization_policy:\n  min_gpu_utilization: 10\n  time_window: 1m\n');
    expect([e.line, e.column]).toEqual([4, 16]);
  });

  it('is written back in dstack grammar', () => {
    const yaml = toYaml(dev('utilization_policy:\n  min_gpu_utilization: 10\n  time_window: 3600'));
    expect(yaml).toContain('utilization_policy:\n  min_gpu_utilization: 10\n  time_window: 1h\n');
  });

  it('a configuration stored before the key existed reads as unset; a stored one is checked', () => {
    const { utilization_policy: _, ...old } = dev('');
    const r = parseNormalizedConfiguration(old);
    expect(r.ok && r.config.type === 'dev-environment' && r.config.utilization_policy).toBeNull();
    const short = { ...dev(''), utilization_policy: { min_gpu_utilization: 10, time_window: 60 } };
    expect(parseNormalizedConfiguration(short).ok).toBe(false);
  });

  it('may come from a profile, as every dstack profile parameter', () => {
    const text = 'profiles:\n  - name: p\n    default: true\n    utilization_policy: {min_gpu_utilization: 5, time_window: 10m}\n';
    expect(pickProfile([{ path: 'profiles.yml', text }], '')?.values.utilization_policy).toEqual({
      min_gpu_utilization: 5,
      time_window: 600,
    });
  });
});
