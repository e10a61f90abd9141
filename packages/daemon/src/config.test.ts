import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_REPO_SIZE_LIMIT, parseConfig, parseSize } from './config';

describe('config.yml', () => {
  it('is optional and has defaults', () => {
    expect(parseConfig('/h/config.yml', '')).toEqual({
      baseImage: null,
      dindImage: 'dstackai/dind',
      repoSizeLimit: DEFAULT_REPO_SIZE_LIMIT,
      debug: false,
      instanceUnreachableAfterMs: 180_000,
      sshServer: {},
      logRotation: { maxBytes: 10 * 1024 * 1024, keep: 3 },
      backends: [],
      cloudBootTimeoutMs: 600_000,
    });
  });

  it('reads the ssh_server limits, leaving out what is not set', () => {
    const cfg = parseConfig(
      '/h/config.yml',
      'ssh_server:\n  login_grace_time: 2m\n  max_startups: 3\n  max_auth_tries: "4"\n  max_connections: 50\n  max_sessions: 2\n',
    );
    expect(cfg.sshServer).toEqual({ loginGraceTimeSeconds: 120, maxStartups: 3, maxAuthTries: 4, maxConnections: 50, maxSessions: 2 });
    expect(parseConfig('/h/config.yml', 'ssh_server: {login_grace_time: 5}\n').sshServer).toEqual({ loginGraceTimeSeconds: 5 });
  });

  it('names file:line:col and the value for a bad ssh_server limit', () => {
    const bad = (text: string) => () => parseConfig('/h/config.yml', text);
    expect(bad('ssh_server:\n  max_startups: ten\n')).toThrow(
      new ConfigError('/h/config.yml:2:17: ssh_server.max_startups: expected a whole number from 1 to 65535, got "ten"'),
    );
    expect(bad('ssh_server:\n  max_auth_tries: 0\n')).toThrow(
      new ConfigError('/h/config.yml:2:19: ssh_server.max_auth_tries: expected a whole number from 1 to 65535, got 0'),
    );
    expect(bad('ssh_server:\n  max_connections: 2.5\n')).toThrow(
      /^\/h\/config.yml:2:20: ssh_server.max_connections: expected a whole number .* got 2.5$/,
    );
    expect(bad('ssh_server:\n  max_sessions: [1]\n')).toThrow(/^\/h\/config.yml:2:17: ssh_server.max_sessions: .* got a list$/);
    expect(bad('ssh_server:\n  login_grace_time: 0s\n')).toThrow(
      new ConfigError('/h/config.yml:2:21: ssh_server.login_grace_time: must be from 1s to 1d, got "0s"'),
    );
    expect(bad('ssh_server:\n  login_grace_time: 2d\n')).toThrow(
      /^\/h\/config.yml:2:21: ssh_server.login_grace_time: must be from 1s to 1d, got "2d"$/,
    );
    expect(bad('ssh_server:\n  login_grace_time: soon\n')).toThrow(
      /^\/h\/config.yml:2:21: ssh_server.login_grace_time: invalid duration "soon"/,
    );
    expect(bad('ssh_server:\n  max_startup: 10\n')).toThrow(
      /^\/h\/config.yml:2:3: unknown setting "ssh_server.max_startup" \(known: login_grace_time, max_startups, max_auth_tries, max_connections, max_sessions\)$/,
    );
    expect(bad('ssh_server: 10\n')).toThrow(/^\/h\/config.yml:1:13: ssh_server: expected a mapping of limits/);
  });

  it('reads log_size_limit and log_keep (the rotation of daemon.log), refusing nonsense', () => {
    expect(parseConfig('/h/config.yml', 'log_size_limit: 1MB\nlog_keep: 5\n').logRotation).toEqual({ maxBytes: 1024 * 1024, keep: 5 });
    expect(parseConfig('/h/config.yml', 'log_keep: 0\n').logRotation).toEqual({ maxBytes: 10 * 1024 * 1024, keep: 0 });
    expect(() => parseConfig('/h/config.yml', 'log_size_limit: 1KB\n')).toThrow(
      new ConfigError('/h/config.yml:1:17: log_size_limit: must be at least 64KB'),
    );
    expect(() => parseConfig('/h/config.yml', 'log_keep: many\n')).toThrow(
      new ConfigError('/h/config.yml:1:11: log_keep: expected how many rotated logs to keep, 0 to 100 (got "many")'),
    );
  });

  it('reads instance_unreachable_after as a duration, refusing zero and nonsense', () => {
    expect(parseConfig('/h/config.yml', 'instance_unreachable_after: 20s\n').instanceUnreachableAfterMs).toBe(20_000);
    expect(parseConfig('/h/config.yml', 'instance_unreachable_after: 5m\n').instanceUnreachableAfterMs).toBe(300_000);
    expect(() => parseConfig('/h/config.yml', 'instance_unreachable_after: 0\n')).toThrow(
      /^\/h\/config.yml:1:29: instance_unreachable_after: must be at least 1s$/,
    );
    expect(() => parseConfig('/h/config.yml', 'instance_unreachable_after: soon\n')).toThrow(
      /^\/h\/config.yml:1:29: instance_unreachable_after: invalid duration/,
    );
  });

  it('reads base_image and repo_size_limit', () => {
    const cfg = parseConfig('/h/config.yml', 'base_image: dstack-test/debian:bookworm-v1\nrepo_size_limit: 10MB\n');
    expect(cfg.baseImage).toBe('dstack-test/debian:bookworm-v1');
    expect(cfg.repoSizeLimit).toBe(10 * 1024 * 1024);
  });

  it('reads dind_image, the image of `docker: true` runs', () => {
    expect(parseConfig('/h/config.yml', 'dind_image: local/dind:test\n').dindImage).toBe('local/dind:test');
    expect(() => parseConfig('/h/config.yml', 'dind_image: ""\n')).toThrow(/^\/h\/config.yml:1:\d+: dind_image: expected an image name/);
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
