// A real Slurm cluster for tests (Debian's slurmctld, slurmd, client tools and munge, 22.05): three
// network-namespace hosts, each with its own sshd (key auth, root) and its own mount and UTS
// namespaces (its hostname): a login node (slurmctld, the client tools) reachable from this machine,
// and two compute nodes (slurmd) reachable only through it: `cpu1` in partition `cpu` (the default)
// and `gpu1` in partition `gpu`, whose one GPU is a gres of type h100 on a character device made
// with mknod (Slurm sets CUDA_VISIBLE_DEVICES and SLURM_JOB_GPUS for it as for a real one). One
// folder is bound at /root on all three: the cluster's shared home. One munge key, one munged (its
// socket named in slurm.conf); slurm.conf is bound at /etc/slurm on every node, so the client tools
// find it as on a real cluster. slurmd runs with SlurmdParameters=config_overrides (the nodes say
// more CPUs and memory than this machine has) and SlurmdTimeout=20 (a node cut off is down and its
// jobs NODE_FAIL in about 30 s).
//
// Parallel-safe: names, namespaces and the 10.x subnet carry a per-cluster random id; nothing is
// written outside the cluster's temp folder but the namespaces and the subnet's guard route, which
// destroy() removes. Needs root; a missing Slurm or munge fails loudly with what to install.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { reserveSubnet } from '../harness/ssh-hosts';
import { mustRun, run, tempDir, waitFor, type RunResult } from '../harness/util';

export interface ClusterNode {
  name: string;
  ns: string;
  /** Its address: the login node's from this machine, a compute node's from the login node. */
  address: string;
  /** Runs a command on the node (its network, mount and UTS namespaces). */
  exec(command: string): Promise<RunResult>;
}

export interface SlurmCluster {
  login: ClusterNode;
  cpu: ClusterNode;
  gpu: ClusterNode;
  /** A key every node accepts for root, and the login node's host key line ("ssh-ed25519 AAAA..."). */
  keyPath: string;
  loginHostKey: string;
  /** The shared home (/root on every node), as a path on this machine. */
  homeDir: string;
  /** Runs a command on the login node. */
  sh(command: string): Promise<RunResult>;
  /** Cuts a compute node's only link (as if its cable were pulled) and restores it. */
  linkDown(node: ClusterNode): Promise<void>;
  linkUp(node: ClusterNode): Promise<void>;
  destroy(): Promise<void>;
}

/** util-linux's, as ssh-hosts.ts uses it. */
const NSENTER = 'nsenter';

const SBIN = ['/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/sbin/munged', '/usr/bin/sbatch', '/usr/sbin/sshd'];

function randomId(): string {
  return Math.random().toString(36).slice(2, 6);
}

function slurmConf(id: string, dir: string, subnet: string): string {
  return [
    `ClusterName=t${id}`,
    `SlurmctldHost=login(${subnet}.0.2)`,
    'SlurmUser=root',
    'AuthType=auth/munge',
    'CredType=cred/munge',
    `AuthInfo=socket=${dir}/munge/munge.socket.2`,
    `StateSaveLocation=${dir}/state`,
    // Bound per node (each node's own folder at the same path).
    `SlurmdSpoolDir=${dir}/node`,
    `SlurmdPidFile=${dir}/node/slurmd.pid`,
    `SlurmdLogFile=${dir}/node/slurmd.log`,
    `SlurmctldPidFile=${dir}/slurmctld.pid`,
    `SlurmctldLogFile=${dir}/slurmctld.log`,
    'ProctrackType=proctrack/linuxproc',
    'TaskPlugin=task/none',
    'JobAcctGatherType=jobacct_gather/none',
    'AccountingStorageType=accounting_storage/none',
    'SelectType=select/cons_tres',
    'SelectTypeParameters=CR_Core_Memory',
    'GresTypes=gpu',
    'SlurmdParameters=config_overrides',
    'SlurmdTimeout=20',
    'ReturnToService=2',
    'MpiDefault=none',
    'KillWait=5',
    `NodeName=cpu1 NodeAddr=${subnet}.1.2 CPUs=4 RealMemory=16000 State=UNKNOWN`,
    `NodeName=gpu1 NodeAddr=${subnet}.2.2 CPUs=4 RealMemory=16000 Gres=gpu:h100:1 State=UNKNOWN`,
    'PartitionName=cpu Nodes=cpu1 Default=YES MaxTime=INFINITE State=UP',
    'PartitionName=gpu Nodes=gpu1 MaxTime=INFINITE State=UP',
    '',
  ].join('\n');
}

function sshdConfig(dir: string, name: string): string {
  return [
    'Port 22',
    'ListenAddress 0.0.0.0',
    `HostKey ${dir}/nodes/${name}/host_key`,
    `PidFile ${dir}/nodes/${name}/sshd.pid`,
    `AuthorizedKeysFile ${dir}/authorized_keys`,
    'UsePAM no',
    'StrictModes no',
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'AllowTcpForwarding yes',
    'AllowStreamLocalForwarding yes',
    'Subsystem sftp internal-sftp',
    'LogLevel VERBOSE',
    '',
  ].join('\n');
}

export async function createSlurmCluster(): Promise<SlurmCluster> {
  if (process.getuid?.() !== 0) throw new Error('the Slurm test cluster needs root (network namespaces)');
  const missing = SBIN.filter((p) => !existsSync(p));
  if (missing.length) throw new Error(`the Slurm test cluster needs ${missing.join(', ')}: run scripts/install-test-deps.sh`);
  const id = randomId();
  const { second, release } = await reserveSubnet();
  const subnet = `10.${second}`;
  const tmp = tempDir(`slurm-${id}`);
  const dir = tmp.path;
  const children: ChildProcess[] = [];
  const namespaces: string[] = [];
  const holders = new Map<string, number>();
  let mungePid = 0;

  const destroy = async () => {
    for (const c of children) c.kill('SIGKILL');
    for (const ns of namespaces) {
      for (const pid of (await run('ip', ['netns', 'pids', ns])).stdout.split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await run('ip', ['netns', 'del', ns]);
    }
    for (const pid of holders.values()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (mungePid) {
      try {
        process.kill(mungePid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    await run('ip', ['link', 'del', `sl${id}l0a`]);
    await release();
    tmp.cleanup();
  };

  try {
    for (const d of ['munge', 'etc', 'home/.ssh', 'state', 'node', 'dev', 'nodes/login', 'nodes/cpu1', 'nodes/gpu1'])
      mkdirSync(join(dir, d), { recursive: true, mode: 0o700 });
    // munge: one key, one daemon for the whole cluster (its socket is named in slurm.conf).
    writeFileSync(join(dir, 'munge/munge.key'), Buffer.from(Array.from({ length: 1024 }, () => Math.floor(Math.random() * 256))), {
      mode: 0o400,
    });
    await mustRun('munged', [
      '--force',
      `--socket=${dir}/munge/munge.socket.2`,
      `--key-file=${dir}/munge/munge.key`,
      `--pid-file=${dir}/munge/munged.pid`,
      `--log-file=${dir}/munge/munged.log`,
      `--seed-file=${dir}/munge/seed`,
    ]);
    mungePid = Number(readFileSync(join(dir, 'munge/munged.pid'), 'utf8').trim());
    // The fake GPU: a character device with NVIDIA's major number.
    await mustRun('mknod', [join(dir, 'dev/nvidia0'), 'c', '195', '0']);
    writeFileSync(join(dir, 'etc/slurm.conf'), slurmConf(id, dir, subnet));
    writeFileSync(join(dir, 'etc/gres.conf'), `NodeName=gpu1 Name=gpu Type=h100 File=${dir}/dev/nvidia0\n`);
    await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'dstack-slurm-test', '-f', join(dir, 'id_ed25519')]);
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'id_ed25519.pub')), { mode: 0o600 });

    // The network: this machine ↔ login (subnet.0), login ↔ cpu1 (subnet.1), login ↔ gpu1 (subnet.2).
    const names = ['login', 'cpu1', 'gpu1'];
    for (const n of names) {
      const ns = `sl-${id}-${n}`;
      await mustRun('ip', ['netns', 'add', ns]);
      namespaces.push(ns);
      await mustRun('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    const [loginNs, cpuNs, gpuNs] = namespaces;
    await mustRun('ip', ['link', 'add', `sl${id}l0a`, 'type', 'veth', 'peer', 'name', `sl${id}l0b`]);
    await mustRun('ip', ['link', 'set', `sl${id}l0b`, 'netns', loginNs]);
    await mustRun('ip', ['addr', 'add', `${subnet}.0.1/24`, 'dev', `sl${id}l0a`]);
    await mustRun('ip', ['link', 'set', `sl${id}l0a`, 'up']);
    await mustRun('ip', ['-n', loginNs, 'addr', 'add', `${subnet}.0.2/24`, 'dev', `sl${id}l0b`]);
    await mustRun('ip', ['-n', loginNs, 'link', 'set', `sl${id}l0b`, 'up']);
    const inner = new Map<string, string>();
    for (const [i, ns] of [cpuNs, gpuNs].entries()) {
      const k = i + 1;
      const [a, b] = [`sl${id}c${k}a`, `sl${id}c${k}b`];
      await mustRun('ip', ['link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
      await mustRun('ip', ['link', 'set', a, 'netns', loginNs]);
      await mustRun('ip', ['link', 'set', b, 'netns', ns]);
      await mustRun('ip', ['-n', loginNs, 'addr', 'add', `${subnet}.${k}.1/24`, 'dev', a]);
      await mustRun('ip', ['-n', loginNs, 'link', 'set', a, 'up']);
      await mustRun('ip', ['-n', ns, 'addr', 'add', `${subnet}.${k}.2/24`, 'dev', b]);
      await mustRun('ip', ['-n', ns, 'link', 'set', b, 'up']);
      // slurmctld's address is the login node's on the first link: reached through its other end.
      await mustRun('ip', ['-n', ns, 'route', 'add', 'default', 'via', `${subnet}.${k}.1`]);
      inner.set(ns, b);
    }

    // Each node: a process holding its mount and UTS namespaces (its hostname, the shared home at
    // /root, slurm.conf at /etc/slurm, its own spool folder); its daemons join them. `nsenter --net`
    // keeps this machine's /sys (slurmd needs /sys/fs/cgroup; `ip netns exec` remounts /sys).
    const nodes: ClusterNode[] = [];
    for (const [i, n] of names.entries()) {
      const ns = namespaces[i];
      const script = [
        `mount --bind ${dir}/home /root`,
        `mount --bind ${dir}/etc /etc/slurm`,
        `mount --bind ${dir}/nodes/${n} ${dir}/node`,
        `hostname ${n}`,
        'exec sleep infinity',
      ].join(' && ');
      const holder = spawn(NSENTER, [`--net=/run/netns/${ns}`, 'unshare', '-m', '-u', '--propagation', 'private', 'sh', '-c', script], {
        stdio: 'ignore',
        detached: true,
      });
      holder.unref();
      children.push(holder);
      const pid = holder.pid!;
      holders.set(n, pid);
      // The holder is ready once its hostname is set (the mounts come before it).
      await waitFor(
        `node ${n}'s namespaces`,
        async () => (await run('nsenter', ['-t', String(pid), '-u', 'hostname'])).stdout.trim() === n,
        {
          timeoutMs: 10_000,
        },
      );
      const enter = (args: string[]) => ['-t', String(pid), '-m', '-u', '-n', '--', ...args];
      await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'nodes', n, 'host_key')]);
      writeFileSync(join(dir, 'nodes', n, 'sshd_config'), sshdConfig(dir, n));
      mkdirSync('/run/sshd', { recursive: true });
      const start = (what: string, args: string[]) => {
        const log = openSync(join(dir, 'nodes', n, `${what}.out`), 'a');
        const child = spawn(NSENTER, enter(args), { stdio: ['ignore', log, log], detached: true });
        child.unref();
        children.push(child);
        return child;
      };
      start('sshd', ['/usr/sbin/sshd', '-D', '-e', '-f', join(dir, 'nodes', n, 'sshd_config')]);
      if (n === 'login') start('slurmctld', ['/usr/sbin/slurmctld', '-D', '-i']);
      else start('slurmd', ['/usr/sbin/slurmd', '-D', '-N', n]);
      const address = i === 0 ? `${subnet}.0.2` : `${subnet}.${i}.2`;
      nodes.push({ name: n, ns, address, exec: (command) => run('nsenter', enter(['sh', '-c', command])) });
    }
    const [login, cpu, gpu] = nodes;
    const sh = login.exec;
    await waitFor(
      'both compute nodes idle in sinfo',
      async () => {
        const res = await sh('sinfo -h -N -o "%N %t"');
        return /cpu1 idle/.test(res.stdout) && /gpu1 idle/.test(res.stdout);
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const link = (node: ClusterNode, state: 'up' | 'down') =>
      mustRun('ip', ['-n', node.ns, 'link', 'set', inner.get(node.ns)!, state]).then(() => undefined);
    const hostKey = readFileSync(join(dir, 'nodes/login/host_key.pub'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    return {
      login,
      cpu,
      gpu,
      keyPath: join(dir, 'id_ed25519'),
      loginHostKey: hostKey,
      homeDir: join(dir, 'home'),
      sh,
      linkDown: (n) => link(n, 'down'),
      linkUp: (n) => link(n, 'up'),
      destroy,
    };
  } catch (err) {
    const logs = ['slurmctld.log', 'nodes/cpu1/slurmd.log', 'nodes/gpu1/slurmd.log']
      .map((f) => join(dir, f))
      .filter(existsSync)
      .map((f) => `${f}:\n${readFileSync(f, 'utf8').slice(-1500)}`)
      .join('\n');
    await destroy();
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
}
