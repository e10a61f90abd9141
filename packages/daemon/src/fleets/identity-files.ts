// A fleet file's identity files as absolute paths, each checked readable: `~/key` from the user's
// home, `key` from the fleet file's folder (the file is read where the user ran `dstack apply`, so
// its relative paths mean what they meant there).
import { accessSync, constants } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { FleetConfiguration, SshProxyJump } from '@dstack/core/config/types';
import { BadRequestError } from '@dstack/core/grpc';

/** `file` is the fleet file's absolute path, `shown` the path as the user gave it (for errors). */
export function resolveIdentityFiles(file: string, shown: string, config: FleetConfiguration, home: string): FleetConfiguration {
  const base = dirname(file);
  const abs = (path: string, field: string): string => {
    const p = path === '~' ? home : path.startsWith('~/') ? join(home, path.slice(2)) : isAbsolute(path) ? path : join(base, path);
    try {
      accessSync(p, constants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new BadRequestError(
        `${shown}: ${field}: cannot read ${path}${p !== path ? ` (${p})` : ''}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code}`,
      );
    }
    return p;
  };
  const jump = (j: SshProxyJump | null, field: string): SshProxyJump | null =>
    j ? { ...j, identity_file: abs(j.identity_file, `${field}.identity_file`) } : null;
  const ssh = config.ssh_config;
  if (!ssh) return config;
  return {
    ...config,
    ssh_config: {
      ...ssh,
      identity_file: ssh.identity_file && abs(ssh.identity_file, 'ssh_config.identity_file'),
      proxy_jump: jump(ssh.proxy_jump, 'ssh_config.proxy_jump'),
      hosts: ssh.hosts.map((h, i) => ({
        ...h,
        identity_file: h.identity_file && abs(h.identity_file, `ssh_config.hosts[${i}].identity_file`),
        proxy_jump: jump(h.proxy_jump, `ssh_config.hosts[${i}].proxy_jump`),
      })),
    },
  };
}
