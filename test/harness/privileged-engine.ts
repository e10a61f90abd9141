// A Docker engine where privileged containers start, for the Docker-in-Docker suite.
//
// A privileged container asks runc for every capability the kernel has. Where this process runs
// with a capability bounding set that lacks some (this project's build machines drop
// CAP_SYS_RESOURCE), runc cannot grant them and every `docker run --privileged` fails with "unable
// to apply caps: operation not permitted", on the shared test engine as on any engine started from
// here. Then this starts a private dockerd whose default runtime is runc behind a shim that drops
// exactly the missing capabilities from each container's and exec's sets, and changes nothing else
// (devices, mounts, cgroups, seccomp and AppArmor stay as privileged mode makes them). Where the set
// is whole, the shared test engine is used as it is.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { dockerPing } from './docker';
import { CACHE_DIR } from './images';
import { mustRun, run, waitFor } from './util';

/** Linux capability names by number (capability.h), as OCI writes them. */
const CAPS = [
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_PACCT',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_NICE',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'MKNOD',
  'LEASE',
  'AUDIT_WRITE',
  'AUDIT_CONTROL',
  'SETFCAP',
  'MAC_OVERRIDE',
  'MAC_ADMIN',
  'SYSLOG',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'AUDIT_READ',
  'PERFMON',
  'BPF',
  'CHECKPOINT_RESTORE',
].map((c) => `CAP_${c}`);

/** The capabilities the kernel has that this process's bounding set lacks. */
export function missingCapabilities(): string[] {
  const bounding = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]}`);
  const last = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
  const missing: string[] = [];
  for (let i = 0; i <= last && i < CAPS.length; i++) if (!(bounding & (1n << BigInt(i)))) missing.push(CAPS[i]);
  return missing;
}

export interface PrivilegedEngine {
  /** DOCKER_HOST for the daemon and its agent. */
  host: string;
  /** Empty: the shared test engine; else the capabilities the private engine's runc shim drops. */
  dropped: string[];
  /** `docker load -i FILE` into this engine. */
  load(tarball: string): Promise<void>;
  stop(): Promise<void>;
}

/** The strip step: removes the dropped capabilities from every set at `key` of a JSON file, in place. */
const STRIP_JS = `const fs = require('fs');
const [file, key, dropped] = process.argv.slice(2);
const drop = new Set(dropped.split(','));
const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
let caps = doc;
for (const k of key.split('.')) caps = caps && caps[k];
if (caps) for (const set of Object.keys(caps)) if (Array.isArray(caps[set])) caps[set] = caps[set].filter((c) => !drop.has(c));
fs.writeFileSync(file + '.tmp', JSON.stringify(doc));
fs.renameSync(file + '.tmp', file);
`;

function shimScript(node: string, strip: string, runc: string, dropped: string[]): string {
  const list = dropped.join(',');
  return `#!/bin/sh
# runc without ${list}, which this machine's capability bounding set lacks (test/harness/privileged-engine.ts).
bundle=""; proc=""; prev=""
for a in "$@"; do
  case "$prev" in --bundle|-b) bundle="$a" ;; --process|-p) proc="$a" ;; esac
  case "$a" in --bundle=*) bundle="\${a#--bundle=}" ;; --process=*) proc="\${a#--process=}" ;; esac
  prev="$a"
done
if [ -n "$bundle" ] && [ -f "$bundle/config.json" ]; then '${node}' '${strip}' "$bundle/config.json" process.capabilities '${list}' || exit 1; fi
if [ -n "$proc" ] && [ -f "$proc" ]; then '${node}' '${strip}' "$proc" capabilities '${list}' || exit 1; fi
exec '${runc}' "$@"
`;
}

export async function privilegedEngine(): Promise<PrivilegedEngine> {
  const dropped = missingCapabilities();
  if (!dropped.length) {
    const host = inject('dockerHost');
    return {
      host,
      dropped,
      load: async (t) => void (await mustRun('docker', ['-H', host, 'load', '-i', t], { timeoutMs: 5 * 60_000 })),
      stop: async () => {},
    };
  }
  const runc = (await mustRun('sh', ['-c', 'command -v runc'])).stdout.trim();
  const dir = join(CACHE_DIR, `privileged-engine-${process.pid}`);
  const execRoot = `/run/dstack-test-priv-${process.pid}`;
  const socket = `/run/dstack-test-priv-${process.pid}.sock`;
  const pidfile = `/run/dstack-test-priv-${process.pid}.pid`;
  mkdirSync(join(dir, 'root'), { recursive: true });
  mkdirSync(execRoot, { recursive: true });
  const strip = join(dir, 'strip-caps.cjs');
  const shim = join(dir, 'runc-shim');
  writeFileSync(strip, STRIP_JS);
  writeFileSync(shim, shimScript(process.execPath, strip, runc, dropped));
  chmodSync(shim, 0o755);
  const logFile = join(dir, 'dockerd.log');
  const log = openSync(logFile, 'a');
  const child = spawn(
    'dockerd',
    [
      '--host',
      `unix://${socket}`,
      '--data-root',
      join(dir, 'root'),
      '--exec-root',
      execRoot,
      '--pidfile',
      pidfile,
      '--bridge=none',
      '--iptables=false',
      '--ip-masq=false',
      '--ip6tables=false',
      '--add-runtime',
      `dstack-test-caps=${shim}`,
      '--default-runtime',
      'dstack-test-caps',
    ],
    { detached: true, stdio: ['ignore', log, log] },
  );
  child.unref();
  let exited: string | undefined;
  child.on('exit', (code) => (exited = `dockerd exited with ${code}`));
  const host = `unix://${socket}`;
  const stop = async () => {
    if (child.exitCode === null && child.pid) {
      process.kill(child.pid, 'SIGTERM');
      await waitFor('the private dockerd to exit', () => child.exitCode !== null || child.signalCode !== null, { timeoutMs: 60_000 }).catch(
        () => child.pid && process.kill(child.pid, 'SIGKILL'),
      );
    }
    // dockerd leaves its network namespace's mount (exec-root/netns/default) behind: unmounted first.
    const mounts = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1] ?? '')
      .filter((m) => m.startsWith(`${execRoot}/`) || m.startsWith(`${dir}/`))
      .reverse();
    for (const m of mounts) await run('umount', ['-l', m]);
    rmSync(dir, { recursive: true, force: true });
    rmSync(execRoot, { recursive: true, force: true });
    rmSync(socket, { force: true });
  };
  try {
    await waitFor(
      'the private dockerd to answer',
      async () => {
        if (exited)
          throw new Error(`${exited}: ${existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : ''}`);
        return dockerPing(socket);
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    host,
    dropped,
    async load(tarball) {
      const res = await run('docker', ['-H', host, 'load', '-i', tarball], { timeoutMs: 5 * 60_000 });
      if (res.code !== 0) throw new Error(`docker load -i ${tarball} into the private engine: ${res.stderr}`);
    },
    stop,
  };
}
