import { describe, expect, it } from 'vitest';
import { launchdPlist, systemdUnit, systemdUnitPath } from './daemon-service';

const spec = {
  node: '/usr/bin/node',
  script: '/opt/dstack ts/dist/daemon.cjs',
  home: '/home/me/.dstack',
  log: '/home/me/.dstack/daemon.log',
  env: { PATH: '/usr/local/bin:/usr/bin', DOCKER_HOST: 'unix:///run/docker.sock' },
};

describe('systemdUnit', () => {
  it('runs node on the daemon bundle with DSTACK_HOME, restarting only after a crash', () => {
    const unit = systemdUnit(spec);
    expect(unit).toContain('ExecStart=/usr/bin/node "/opt/dstack ts/dist/daemon.cjs"\n');
    expect(unit).toContain('Environment=DSTACK_HOME=/home/me/.dstack\n');
    expect(unit).toContain('Environment=PATH=/usr/local/bin:/usr/bin\n');
    expect(unit).toContain('Environment=DOCKER_HOST=unix:///run/docker.sock\n');
    expect(unit).toContain('Restart=on-failure\n');
    expect(unit).toMatch(/\[Install\]\nWantedBy=default\.target\n$/);
  });

  it('quotes values with spaces or quotes, and escapes specifiers', () => {
    expect(systemdUnit({ ...spec, env: { X: 'a "b" c' } })).toContain('Environment="X=a \\"b\\" c"\n');
    expect(systemdUnit({ ...spec, home: '/home/me/100%' })).toContain('Environment=DSTACK_HOME=/home/me/100%%\n');
    expect(systemdUnit({ ...spec, script: '/opt/50% off/daemon.cjs' })).toContain('ExecStart=/usr/bin/node "/opt/50%% off/daemon.cjs"\n');
  });

  it('refuses a value a unit cannot carry instead of writing a setting of its choosing', () => {
    expect(() => systemdUnit({ ...spec, home: '/home/me\nExecStartPre=/bin/evil' })).toThrow(
      /Environment DSTACK_HOME: .* has a control character \(U\+000A\)/,
    );
    expect(() => systemdUnit({ ...spec, node: '/usr/bin/no"de' })).toThrow(/ExecStart/);
  });

  it('lives in the user unit folder, under XDG_CONFIG_HOME when set', () => {
    expect(systemdUnitPath({ XDG_CONFIG_HOME: '/cfg' })).toBe('/cfg/systemd/user/dstack-daemon.service');
    expect(systemdUnitPath({})).toMatch(/\/\.config\/systemd\/user\/dstack-daemon\.service$/);
  });
});

describe('launchdPlist', () => {
  it('is a login agent running the daemon with its environment and log', () => {
    const plist = launchdPlist({ ...spec, env: { A: 'x<y&z' } });
    expect(plist).toContain('<key>Label</key><string>ai.dstack.daemon</string>');
    expect(plist).toContain('<string>/usr/bin/node</string>\n    <string>/opt/dstack ts/dist/daemon.cjs</string>');
    expect(plist).toContain('<key>DSTACK_HOME</key><string>/home/me/.dstack</string>');
    expect(plist).toContain('<key>A</key><string>x&lt;y&amp;z</string>');
    expect(plist).toContain('<key>RunAtLoad</key><true/>');
    expect(plist).toContain('<key>StandardErrorPath</key><string>/home/me/.dstack/daemon.log</string>');
  });

  it('refuses control characters, which XML cannot carry', () => {
    expect(() => launchdPlist({ ...spec, env: { A: 'x\u0001' } })).toThrow(/control character \(U\+0001\)/);
  });
});
