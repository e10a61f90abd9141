// What GetHostInfo reports: CPUs, memory, the data dir's disk, GPUs (NVIDIA through nvidia-smi, AMD
// through amd-smi or rocm-smi, TPUs from /dev/accel*), Docker, OS and kernel. A missing tool means
// "none of those", never an error.
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, statfsSync } from 'node:fs';
import { availableParallelism, hostname, machine, release, totalmem } from 'node:os';
import type { Gpu, HostInfo } from '@dstack/core/gen/agent';
import type { DockerEngine } from '../docker/engine';
import { AGENT_VERSION } from '../self';
import { AMD_SMI_ARGS, ROCM_SMI_ARGS, parseAmdSmi, parseRocmSmi } from './amd';
import { NVIDIA_ARGS, parseNvidiaSmi } from './nvidia';
import { parseMemTotal, parseOsRelease } from './os-release';
import { tpusFromDevices } from './tpu';

/** A tool's stdout, or undefined when it is missing, fails or runs past `timeoutMs`. */
export function output(cmd: string, args: string[], timeoutMs = 15_000): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout) => resolve(err ? undefined : stdout));
  });
}

function readOr(path: string, fallback = ''): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

export async function nvidiaGpus(): Promise<Gpu[]> {
  const out = await output('nvidia-smi', NVIDIA_ARGS);
  return out ? parseNvidiaSmi(out) : [];
}

async function amdGpus(): Promise<Gpu[]> {
  const amd = await output('amd-smi', AMD_SMI_ARGS);
  if (amd) {
    try {
      return parseAmdSmi(amd);
    } catch {
      /* fall through to rocm-smi */
    }
  }
  const rocm = await output('rocm-smi', ROCM_SMI_ARGS);
  if (!rocm) return [];
  try {
    return parseRocmSmi(rocm);
  } catch {
    return [];
  }
}

function tpus(): Gpu[] {
  try {
    return tpusFromDevices(readdirSync('/dev'));
  } catch {
    return [];
  }
}

export async function detectGpus(): Promise<Gpu[]> {
  const [nvidia, amd] = await Promise.all([nvidiaGpus(), amdGpus()]);
  return [...nvidia, ...amd, ...tpus()];
}

export async function dockerVersion(engine: DockerEngine): Promise<string | undefined> {
  try {
    const v = await engine.json<{ Version?: string }>('GET', '/version');
    return v.Version ?? '';
  } catch {
    return undefined;
  }
}

export async function collectHostInfo(dataDir: string, engine: DockerEngine): Promise<HostInfo> {
  const [gpus, docker] = await Promise.all([detectGpus(), dockerVersion(engine)]);
  let disk = { total: 0, free: 0 };
  try {
    const s = statfsSync(dataDir);
    disk = { total: s.blocks * s.bsize, free: s.bavail * s.bsize };
  } catch {
    /* unknown */
  }
  return {
    hostname: hostname(),
    os: parseOsRelease(readOr('/etc/os-release', readOr('/usr/lib/os-release'))),
    arch: machine(),
    cpus: availableParallelism(),
    memoryBytes: parseMemTotal(readOr('/proc/meminfo')) || totalmem(),
    diskTotalBytes: disk.total,
    diskFreeBytes: disk.free,
    gpus,
    docker: docker !== undefined,
    dockerVersion: docker ?? '',
    agentVersion: AGENT_VERSION,
    kernel: release(),
  };
}
