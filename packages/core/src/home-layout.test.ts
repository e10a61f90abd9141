import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dstackHome, homeLayout } from './home-layout';

describe('dstackHome', () => {
  it('is $DSTACK_HOME made absolute, else ~/.dstack', () => {
    expect(dstackHome({ DSTACK_HOME: '/srv/dh' })).toBe('/srv/dh');
    expect(dstackHome({ DSTACK_HOME: 'rel/dh' })).toBe(join(process.cwd(), 'rel/dh'));
    expect(dstackHome({})).toBe(join(homedir(), '.dstack'));
    expect(dstackHome({ DSTACK_HOME: '' })).toBe(join(homedir(), '.dstack'));
  });
});

describe('homeLayout', () => {
  it('puts every file under the home, at the paths the README documents', () => {
    const l = homeLayout('/h');
    expect(l).toMatchObject({
      socket: '/h/daemon.sock',
      pidFile: '/h/daemon.pid',
      log: '/h/daemon.log',
      db: '/h/state.db',
      config: '/h/config.yml',
      secretKey: '/h/secret.key',
      sshKey: '/h/ssh/id_ed25519',
      sshConfig: '/h/ssh/config',
      knownHosts: '/h/ssh/known_hosts',
      fleetKnownHosts: '/h/ssh/fleet_known_hosts',
      runDir: '/h/run',
      runsDir: '/h/runs',
      localBackendDir: '/h/local',
    });
    for (const p of Object.values(l)) expect(p.startsWith('/h')).toBe(true);
  });
});
