// How the daemon reaches one fleet host: the fleet file's host with ssh_config's defaults applied
// (core's resolveSshHosts), `~` expanded, and the default key where the file names none.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedSshHost } from '@dstack/core/config/fleet';

export interface JumpAccess {
  hostname: string;
  port: number;
  user: string;
  identityFile: string;
  /** The fleet file's host_key ("ssh-ed25519 AAAA..."): the only key accepted; null: known_hosts decide. */
  hostKey: string | null;
}

export interface HostAccess extends JumpAccess {
  proxyJump: JumpAccess | null;
}

/** The host's identity within its fleet: `hostname:port` (IPv6 in brackets). */
export function hostKeyOf(h: { hostname: string; port: number }): string {
  return `${h.hostname.includes(':') ? `[${h.hostname}]` : h.hostname}:${h.port}`;
}

/** `user@host:port`, as messages and tables name a host. */
export function accessLabel(a: { hostname: string; port: number; user: string }): string {
  return `${a.user}@${hostKeyOf(a)}`;
}

/** `~` and `~/...` against the user's home; anything else as given (the CLI makes paths absolute). */
export function expandHome(path: string, home: string): string {
  if (path === '~') return home;
  return path.startsWith('~/') ? join(home, path.slice(2)) : path;
}

const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

/** OpenSSH's default identity files, the first that exists; '' when there is none. */
export function defaultIdentityFile(home: string): string {
  return DEFAULT_KEYS.map((k) => join(home, '.ssh', k)).find((f) => existsSync(f)) ?? '';
}

export function accessFor(h: ResolvedSshHost, home: string): HostAccess {
  const identity = (file: string | null) => (file ? expandHome(file, home) : defaultIdentityFile(home));
  return {
    hostname: h.hostname,
    port: h.port,
    user: h.user,
    identityFile: identity(h.identity_file),
    hostKey: h.host_key,
    proxyJump: h.proxy_jump
      ? {
          hostname: h.proxy_jump.hostname,
          port: h.proxy_jump.port ?? 22,
          user: h.proxy_jump.user,
          identityFile: identity(h.proxy_jump.identity_file),
          hostKey: h.proxy_jump.host_key,
        }
      : null,
  };
}

/** Whether two ways of reaching a host differ in anything that matters (user, key, pinned host key, jump host). */
export function sameAccess(a: HostAccess, b: HostAccess): boolean {
  // Hosts recorded before host_key existed have none: the same as null.
  const one = (x: JumpAccess) => `${accessLabel(x)} ${x.identityFile} ${x.hostKey ?? ''}`;
  const j = (x: JumpAccess | null) => (x ? one(x) : '');
  return one(a) === one(b) && j(a.proxyJump) === j(b.proxyJump);
}
