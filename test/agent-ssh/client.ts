// OpenSSH's clients pointed at a job SSH server started in this test process: client keys made with
// ssh-keygen, a private ssh_config (IdentityFile, the server's host key pinned, StrictHostKeyChecking
// yes) used through -F, so nothing of the machine's own ~/.ssh is read.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  generateHostKey,
  startJobSshServer,
  type JobSshServer,
  type JobSshServerOptions,
} from '../../packages/agent/src/ssh-server/server';
import type { SessionTarget } from '../../packages/agent/src/ssh-server/target';
import { setSftpHelperCommand } from '../../packages/agent/src/sftp/spawn';
import { mustRun, run, tempDir, type RunResult } from '../harness/util';
import { requireAgentBinary } from '../agent/agent';

export interface SshClient {
  dir: string;
  /** The ssh_config for `-F`; the host alias is `job`. */
  config: string;
  keyPath: string;
  publicKey: string;
  ssh(args: string[], opts?: Parameters<typeof run>[2]): Promise<RunResult>;
  mustSsh(args: string[], opts?: Parameters<typeof run>[2]): Promise<RunResult>;
  cleanup(): void;
}

export async function makeKey(dir: string, name: string): Promise<{ path: string; publicKey: string }> {
  const path = join(dir, name);
  await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@dstack-test`, '-f', path]);
  const publicKey = (await mustRun('cat', [`${path}.pub`])).stdout.trim();
  return { path, publicKey };
}

/** Writes an ssh_config with one Host `job` for the server at port, pinning hostPublicKey. */
export function writeClientConfig(dir: string, port: number, hostPublicKey: string, keyPath: string, name = 'ssh_config'): string {
  const knownHosts = join(dir, `${name}.known_hosts`);
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostPublicKey}\n`);
  const config = join(dir, name);
  writeFileSync(
    config,
    [
      'Host job',
      '  HostName 127.0.0.1',
      `  Port ${port}`,
      '  User root',
      `  IdentityFile ${keyPath}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${knownHosts}`,
      '  StrictHostKeyChecking yes',
      '  BatchMode yes',
      '  LogLevel ERROR',
      '',
    ].join('\n'),
  );
  return config;
}

export interface ServerUnderTest {
  server: JobSshServer;
  client: SshClient;
  logs: string[];
  close(): Promise<void>;
}

/** Starts a job SSH server over `target` and a client set up to reach it as `job`. */
export async function startServerAndClient(target: SessionTarget, extra: Partial<JobSshServerOptions> = {}): Promise<ServerUnderTest> {
  // The agent's own SFTP server runs as a process of its own: the built executable's.
  setSftpHelperCommand([requireAgentBinary()]);
  const scratch = tempDir('agent-ssh');
  const key = await makeKey(scratch.path, 'id_ed25519');
  const logs: string[] = [];
  const server = await startJobSshServer({
    hostKeyPem: generateHostKey().privatePem,
    authorizedKeys: [key.publicKey],
    target,
    port: 0,
    log: (l) => logs.push(l),
    ...extra,
  });
  const config = writeClientConfig(scratch.path, server.port, server.hostPublicKey, key.path);
  const ssh = (args: string[], opts: Parameters<typeof run>[2] = {}) =>
    run('ssh', ['-F', config, ...args], { timeoutMs: 120_000, ...opts });
  const client: SshClient = {
    dir: scratch.path,
    config,
    keyPath: key.path,
    publicKey: key.publicKey,
    ssh,
    mustSsh: async (args, opts) => {
      const res = await ssh(args, opts);
      if (res.code !== 0) throw new Error(`ssh ${args.join(' ')} exited ${res.code}: ${res.stderr.trim()}`);
      return res;
    },
    cleanup: scratch.cleanup,
  };
  return {
    server,
    client,
    logs,
    close: async () => {
      await server.close();
      scratch.cleanup();
    },
  };
}
