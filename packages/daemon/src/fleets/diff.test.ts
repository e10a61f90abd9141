import { describe, expect, it } from 'vitest';
import type { HostAccess } from '@dstack/backends/ssh-fleet/access';
import { diffFleet, type CurrentHost } from './diff';

const host = (hostname: string, extra: Partial<HostAccess> = {}): HostAccess => ({
  hostname,
  port: 22,
  user: 'root',
  identityFile: '/keys/id',
  hostKey: null,
  proxyJump: null,
  ...extra,
});

const current = (hostname: string, num: number, extra: Partial<CurrentHost> = {}): CurrentHost => ({
  access: host(hostname),
  instanceName: `f-${num}`,
  num,
  ready: true,
  ...extra,
});

const actions = (changes: ReturnType<typeof diffFleet>) => changes.map((c) => `${c.action} ${c.key} #${c.num}`);

describe('fleet diff', () => {
  it('adds every host of a new fleet, numbered in file order', () => {
    expect(actions(diffFleet([], [host('10.0.0.1'), host('10.0.0.2'), host('10.0.0.3', { port: 2222 })]))).toEqual([
      'add 10.0.0.1:22 #0',
      'add 10.0.0.2:22 #1',
      'add 10.0.0.3:2222 #2',
    ]);
  });

  it('keeps listed hosts, adds new ones with the lowest free number, removes unlisted ones', () => {
    const cur = [current('10.0.0.1', 0), current('10.0.0.2', 1, { runName: 'dev' }), current('10.0.0.3', 2)];
    const changes = diffFleet(cur, [host('10.0.0.1'), host('10.0.0.3'), host('10.0.0.9'), host('10.0.0.8')]);
    expect(actions(changes)).toEqual([
      'keep 10.0.0.1:22 #0',
      'keep 10.0.0.3:22 #2',
      'add 10.0.0.9:22 #3',
      'add 10.0.0.8:22 #4',
      'remove 10.0.0.2:22 #1',
    ]);
    // A removed host says which run is on it (removing it needs force).
    expect(changes.find((c) => c.action === 'remove')).toMatchObject({ instanceName: 'f-1', runName: 'dev' });
  });

  it('fills gaps in the numbering', () => {
    expect(actions(diffFleet([current('a', 0), current('c', 2)], [host('a'), host('c'), host('d')]))).toEqual([
      'keep a:22 #0',
      'keep c:22 #2',
      'add d:22 #1',
    ]);
  });

  it('is the same host only with the same hostname and port', () => {
    expect(actions(diffFleet([current('a', 0)], [host('a', { port: 2200 })]))).toEqual(['add a:2200 #1', 'remove a:22 #0']);
  });

  it('redeploys a host that failed, one reached differently, or every host when asked', () => {
    const cur = [current('a', 0, { ready: false, message: 'unreachable' }), current('b', 1), current('c', 2)];
    const wanted = [
      host('a'),
      host('b', { user: 'ubuntu' }),
      host('c', { proxyJump: { hostname: 'j', port: 22, user: 'root', identityFile: '/keys/id', hostKey: null } }),
    ];
    const changes = diffFleet(cur, wanted);
    expect(actions(changes)).toEqual(['redeploy a:22 #0', 'redeploy b:22 #1', 'redeploy c:22 #2']);
    expect(changes[0].reason).toBe('its last deploy failed: unreachable');
    expect(changes[1].reason).toMatch(/^reached differently now \(was root@b:22 with \/keys\/id\)$/);
    expect(actions(diffFleet([current('a', 0)], [host('a')], { redeploy: true }))).toEqual(['redeploy a:22 #0']);
    expect(actions(diffFleet([current('a', 0)], [host('a', { identityFile: '/keys/other' })]))).toEqual(['redeploy a:22 #0']);
  });

  it('redeploys a host whose host_key pin changed (the new pin is checked on connecting), not one recorded before pins existed', () => {
    const pin = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEZNw+gudN60IQ1Y13LweQJAYoQi26r+L77/AFePw8wE';
    const pinned = diffFleet([current('a', 0)], [host('a', { hostKey: pin })]);
    expect(actions(pinned)).toEqual(['redeploy a:22 #0']);
    const unpinned = diffFleet([current('a', 0, { access: host('a', { hostKey: pin }) })], [host('a')]);
    expect(unpinned[0].reason).toBe(
      'reached differently now (was root@a:22 with /keys/id, host_key SHA256:n9Dull7IOEDoiBjJTXPGV+lZfMyJkeL4eAxRnsQCFtw)',
    );
    const old = { ...host('a') } as Partial<HostAccess>;
    delete old.hostKey;
    expect(actions(diffFleet([current('a', 0, { access: old as HostAccess })], [host('a')]))).toEqual(['keep a:22 #0']);
  });

  it('removes every host when the file lists none of them', () => {
    expect(actions(diffFleet([current('a', 0), current('b', 1)], [host('c')]))).toEqual([
      'add c:22 #2',
      'remove a:22 #0',
      'remove b:22 #1',
    ]);
  });
});
