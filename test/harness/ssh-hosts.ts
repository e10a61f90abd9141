// SSH test hosts: each one a network namespace with its own address on a veth pair and its own
// OpenSSH sshd (key auth only), with a private /root (a bind mount in a private mount namespace) so an
// agent installed on one host is not "already there" on the next. A host may sit behind a jump host:
// its veth peer is then in the jump host's namespace, and this machine has no route to it.
//
// Parallel-safe: names and subnets carry a per-network random id. Needs root and iproute2.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mustRun, run, tempDir, waitFor, type RunResult } from './util';

export interface HostSpec {
  name: string;
  /** Name of another host in the same network that is the only way in. */
  via?: string;
  /** Commands the host lacks: its sessions get a PATH of links to this machine's commands but these. */
  without?: string[];
  /** Shell scripts that stand in for commands of the same name on the host (a broken gzip). */
  scripts?: Record<string, string>;
}

export interface TestHost {
  name: string;
  ns: string;
  /** The address to dial: from this machine, or from the jump host when `via` is set. */
  address: string;
  port: number;
  user: string;
  /** The host's private /root, as a path on this machine. */
  homeDir: string;
  /** The keys its sshd accepts (for root), as a path on this machine. */
  authorizedKeysFile: string;
  /** Its sshd's pid (on this machine). */
  sshdPid: number;
  via?: TestHost;
  /** Runs a command inside the host (its network and mount namespaces). */
  exec(command: string): Promise<RunResult>;
  /** Cuts the host's only link (as if its cable were pulled) and restores it. */
  linkDown(): Promise<void>;
  linkUp(): Promise<void>;
}

export interface TestHostNetwork {
  hosts: TestHost[];
  host(name: string): TestHost;
  /** A private key that every host accepts for root, and its public half. */
  keyPath: string;
  publicKey: string;
  dir: string;
  destroy(): Promise<void>;
}

const SSHD = '/usr/sbin/sshd';

/** Where a host's commands come from when it has its own PATH (HostSpec.without, .scripts). */
const COMMAND_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** A folder for a host's PATH: links to this machine's commands (the first of each name) but `without`, and `scripts`. */
function commandDir(dir: string, spec: HostSpec): string {
  mkdirSync(dir, { recursive: true });
  const skip = new Set([...(spec.without ?? []), ...Object.keys(spec.scripts ?? {})]);
  for (const from of COMMAND_DIRS) {
    if (!existsSync(from)) continue;
    for (const name of readdirSync(from)) {
      if (skip.has(name)) continue;
      skip.add(name);
      symlinkSync(join(from, name), join(dir, name));
    }
  }
  for (const [name, body] of Object.entries(spec.scripts ?? {})) {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  }
  return dir;
}

function randomId(): string {
  return Math.random().toString(36).slice(2, 6);
}

async function usedSubnets(): Promise<Set<string>> {
  const out = (await run('ip', ['-o', '-4', 'addr'])).stdout + (await run('ip', ['-4', 'route'])).stdout;
  const used = new Set<string>();
  for (const m of out.matchAll(/\b(10\.\d+)\./g)) used.add(m[1]);
  return used;
}

/**
 * A 10.x.0.0/16 no other test network on this machine uses, with an `unreachable` route for all of
 * it: nothing for these addresses may ever leave the machine, whatever state a link is in.
 */
export async function reserveSubnet(): Promise<{ second: number; release: () => Promise<void> }> {
  const used = await usedSubnets();
  let second = 0;
  for (let tries = 0; tries < 50; tries++) {
    const candidate = 100 + Math.floor(Math.random() * 150);
    if (!used.has(`10.${candidate}`)) {
      second = candidate;
      break;
    }
  }
  if (!second) throw new Error('no free 10.x subnet for a test network');
  const guardRoute = `10.${second}.0.0/16`;
  await mustRun('ip', ['route', 'add', 'unreachable', guardRoute]);
  return { second, release: async () => void (await run('ip', ['route', 'del', 'unreachable', guardRoute])) };
}

export async function createTestHosts(specs: HostSpec[]): Promise<TestHostNetwork> {
  if (process.getuid?.() !== 0) throw new Error('SSH test hosts need root (network namespaces)');
  const id = randomId();
  const { second, release } = await reserveSubnet();

  const tmp = tempDir(`hosts-${id}`);
  const dir = tmp.path;
  const keyPath = join(dir, 'id_ed25519');
  await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'dstack-test', '-f', keyPath]);
  const publicKey = readFileSync(`${keyPath}.pub`, 'utf8').trim();

  const hosts: TestHost[] = [];
  const sshds: ChildProcess[] = [];
  const namespaces: string[] = [];
  const byName = new Map<string, TestHost>();

  const destroy = async () => {
    for (const ns of namespaces) {
      const pids = (await run('ip', ['netns', 'pids', ns])).stdout.split('\n').filter(Boolean);
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
    for (const child of sshds) child.kill('SIGKILL');
    for (const ns of namespaces) await run('ip', ['netns', 'del', ns]);
    await release();
    tmp.cleanup();
  };

  try {
    for (const [index, spec] of specs.entries()) {
      const ns = `dstk-${id}-${spec.name}`;
      await mustRun('ip', ['netns', 'add', ns]);
      namespaces.push(ns);
      await mustRun('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);

      // veth names are limited to 15 characters.
      const outer = `dk${id}${index}a`;
      const inner = `dk${id}${index}b`;
      const subnet = `10.${second}.${index}`;
      const via = spec.via ? byName.get(spec.via) : undefined;
      if (spec.via && !via) throw new Error(`host ${spec.name}: jump host ${spec.via} must come before it`);
      const outerNs = via ? via.ns : undefined;
      await mustRun('ip', ['link', 'add', outer, 'type', 'veth', 'peer', 'name', inner]);
      await mustRun('ip', ['link', 'set', inner, 'netns', ns]);
      if (outerNs) await mustRun('ip', ['link', 'set', outer, 'netns', outerNs]);
      const onOuter = outerNs ? ['-n', outerNs] : [];
      await mustRun('ip', [...onOuter, 'addr', 'add', `${subnet}.1/24`, 'dev', outer]);
      await mustRun('ip', [...onOuter, 'link', 'set', outer, 'up']);
      await mustRun('ip', ['-n', ns, 'addr', 'add', `${subnet}.2/24`, 'dev', inner]);
      await mustRun('ip', ['-n', ns, 'link', 'set', inner, 'up']);

      const hostDir = join(dir, spec.name);
      const homeDir = join(hostDir, 'root');
      mkdirSync(join(homeDir, '.ssh'), { recursive: true, mode: 0o700 });
      await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(hostDir, 'host_key')]);
      writeFileSync(join(hostDir, 'authorized_keys'), `${publicKey}\n`, { mode: 0o600 });
      const config = [
        'Port 22',
        'ListenAddress 0.0.0.0',
        `HostKey ${join(hostDir, 'host_key')}`,
        `PidFile ${join(hostDir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${join(hostDir, 'authorized_keys')}`,
        'UsePAM no',
        'StrictModes no',
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'AllowTcpForwarding yes',
        'AllowStreamLocalForwarding yes',
        'AllowAgentForwarding yes',
        'Subsystem sftp internal-sftp',
        'LogLevel VERBOSE',
        // sshd's SetEnv comes after its own PATH, so it replaces it.
        ...(spec.without || spec.scripts ? [`SetEnv PATH=${commandDir(join(hostDir, 'bin'), spec)}`] : []),
        '',
      ].join('\n');
      writeFileSync(join(hostDir, 'sshd_config'), config);
      mkdirSync('/run/sshd', { recursive: true });
      const log = openSync(join(hostDir, 'sshd.log'), 'a');
      // ip netns exec → unshare → sh → sshd, each exec'ing the next: child.pid ends up being sshd's.
      const sshd = spawn(
        'ip',
        [
          'netns',
          'exec',
          ns,
          'unshare',
          '-m',
          'sh',
          '-c',
          `mount --bind '${homeDir}' /root && exec ${SSHD} -D -e -f '${join(hostDir, 'sshd_config')}'`,
        ],
        { stdio: ['ignore', log, log], detached: true },
      );
      sshd.unref();
      sshds.push(sshd);
      const address = `${subnet}.2`;
      const pid = sshd.pid!;
      // The host's own end goes down, like a pulled cable: packets are dropped silently. (Taking our
      // end down would remove the route and send the traffic out of the default route instead.)
      const linkCmd = (state: 'up' | 'down') => mustRun('ip', ['-n', ns, 'link', 'set', inner, state]).then(() => undefined);
      const host: TestHost = {
        name: spec.name,
        ns,
        address,
        port: 22,
        user: 'root',
        homeDir,
        authorizedKeysFile: join(hostDir, 'authorized_keys'),
        sshdPid: pid,
        via,
        exec: (command) => run('nsenter', ['-t', String(pid), '-m', '-n', '--', 'sh', '-c', command]),
        linkDown: () => linkCmd('down'),
        linkUp: () => linkCmd('up'),
      };
      const probeNs = outerNs ?? undefined;
      await waitFor(
        `sshd of test host ${spec.name}`,
        async () => {
          if (sshd.exitCode !== null) throw new Error(`sshd exited: ${readFileSync(join(hostDir, 'sshd.log'), 'utf8').slice(-1500)}`);
          const probe = `exec 3<>/dev/tcp/${address}/22 && head -c 4 <&3`;
          const res = probeNs ? await run('ip', ['netns', 'exec', probeNs, 'bash', '-c', probe]) : await run('bash', ['-c', probe]);
          return res.stdout.startsWith('SSH-');
        },
        { timeoutMs: 20_000 },
      );
      hosts.push(host);
      byName.set(spec.name, host);
    }
  } catch (err) {
    await destroy();
    throw err;
  }

  return {
    hosts,
    host: (name) => {
      const h = byName.get(name);
      if (!h) throw new Error(`no test host ${name}`);
      return h;
    },
    keyPath,
    publicKey,
    dir,
    destroy,
  };
}
