import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_REPO_SIZE_LIMIT, parseConfig, parseSize } from './config';

describe('config.yml', () => {
  it('is optional and has defaults', () => {
    expect(parseConfig('/h/config.yml', '')).toEqual({
      baseImage: null,
      repoSizeLimit: DEFAULT_REPO_SIZE_LIMIT,
      debug: false,
      instanceUnreachableAfterMs: 180_000,
      logRotation: { maxBytes: 10 * 1024 * 1024, keep: 3 },
    });
  });

  it('reads log_size_limit and log_keep (the rotation of daemon.log), refusing nonsense', () => {
    expect(parseConfig('/h/config.yml', 'log_size_limit: 1MB\nlog_keep: 5\n').logRotation).toEqual({ maxBytes: 1024 * 1024, keep: 5 });
    expect(parseConfig('/h/config.yml', 'log_keep: 0\n').logRotation).toEqual({ maxBytes: 10 * 1024 * 1024, keep: 0 });
    expect(() => parseConfig('/h/config.yml', 'log_size_limit: 1KB\n')).toThrow(new ConfigError('/h/config.yml:1:17: log_size_limit: must be at least 64KB'));
    expect(() => parseConfig('/h/config.yml', 'log_keep: many\n')).toThrow(
      new ConfigError('/h/config.yml:1:11: log_keep: expected how many rotated logs to keep, 0 to 100 (got "many")'),
    );
  });

  it('reads instance_unreachable_after as a duration, refusing zero and nonsense', () => {
    expect(parseConfig('/h/config.yml', 'instance_unreachable_after: 20s\n').instanceUnreachableAfterMs).toBe(20_000);
    expect(parseConfig('/h/config.yml', 'instance_unreachable_after: 5m\n').instanceUnreachableAfterMs).toBe(300_000);
    expect(() => parseConfig('/h/config.yml', 'instance_unreachable_after: 0\n')).toThrow(/^\/h\/config.yml:1:29: instance_unreachable_after: must be at least 1s$/);
    expect(() => parseConfig('/h/config.yml', 'instance_unreachable_after: soon\n')).toThrow(/^\/h\/config.yml:1:29: instance_unreachable_after: invalid duration/);
  });

  it('reads base_image and repo_size_limit', () => {
    const cfg = parseConfig('/h/config.yml', 'base_image: dstack-test/debian:bookworm-v1\nrepo_size_limit: 10MB\n');
    expect(cfg.baseImage).toBe('dstack-test/debian:bookworm-v1');
    expect(cfg.repoSizeLimit).toBe(10 * 1024 * 1024);
  });

  it('names file:line:col for a bad value, an unknown key and broken YAML', () => {
    expect(() => parseConfig('/h/config.yml', 'base_image: x\nrepo_size_limit: lots\n')).toThrow(
      new ConfigError('/h/config.yml:2:18: repo_size_limit: expected a size like 500MB or 1GB, got "lots"'),
    );
    expect(() => parseConfig('/h/config.yml', '\nbase_imag: x\n')).toThrow(/^\/h\/config.yml:2:1: unknown setting "base_imag"/);
    expect(() => parseConfig('/h/config.yml', 'base_image: [x\n')).toThrow(/^\/h\/config.yml:\d+:\d+: /);
  });

  it('parses sizes in powers of 1024', () => {
    expect(parseSize('1GB')).toBe(1024 ** 3);
    expect(parseSize('1.5 gb')).toBe(1.5 * 1024 ** 3);
    expect(parseSize(2048)).toBe(2048);
    expect(() => parseSize('-1GB')).toThrow();
  });
});
