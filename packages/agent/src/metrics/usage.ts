// How much CPU time and memory a job uses: a container's from Docker's stats API (its cgroup, as the
// engine reads it: the same numbers `docker stats` shows), a host-mode job's from /proc, summed over
// its processes (found by their DSTACK_JOB_ID marker, runtime/host.ts).
import { readFileSync } from 'node:fs';
import type { DockerEngine } from '../docker/engine';
import { jobProcesses } from '../runtime/host';

export interface UsageReading {
  /** CPU time used so far, in nanoseconds (only differences between readings mean anything). */
  cpuNs: number;
  memoryUsageBytes: number;
  memoryWorkingSetBytes: number;
}

/** The part of `GET /containers/{id}/stats` read here. */
export interface DockerStats {
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
  memory_stats?: { usage?: number; stats?: Record<string, number> };
}

/**
 * A container's reading. Working set as `docker stats` and cAdvisor count it: usage less the inactive
 * page cache (`inactive_file` on cgroup v2, `total_inactive_file` on v1).
 */
export function parseDockerStats(s: DockerStats): UsageReading {
  const usage = s.memory_stats?.usage ?? 0;
  const stats = s.memory_stats?.stats ?? {};
  const inactive = stats.inactive_file ?? stats.total_inactive_file ?? 0;
  return {
    cpuNs: s.cpu_stats?.cpu_usage?.total_usage ?? 0,
    memoryUsageBytes: usage,
    memoryWorkingSetBytes: Math.max(0, usage - inactive),
  };
}

const STATS_TIMEOUT_MS = 5_000;

export async function dockerUsage(engine: DockerEngine, containerId: string): Promise<UsageReading> {
  // one-shot: the engine answers at once instead of waiting a second for a second CPU reading.
  const res = await engine.stream(
    'GET',
    `/containers/${containerId}/stats?stream=false&one-shot=true`,
    undefined,
    {},
    AbortSignal.timeout(STATS_TIMEOUT_MS),
  );
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return parseDockerStats(JSON.parse(Buffer.concat(chunks).toString('utf8')) as DockerStats);
}

/**
 * Clock ticks of CPU time in /proc/PID/stat: the process's own (utime, stime) and that of its
 * children it has waited for (cutime, cstime), so time does not vanish when a job's child exits.
 */
export function parseProcStatTicks(stat: string): number {
  // Fields after the command (which may hold spaces and parentheses): state is field 3.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime, stime, cutime, cstime are fields 14 to 17, so 11 to 14 after state.
  return [11, 12, 13, 14].reduce((sum, i) => sum + (Number(f[i]) || 0), 0);
}

/** VmRSS of /proc/PID/status, in bytes (0 for a kernel thread or a zombie). */
export function parseVmRssBytes(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** USER_HZ: what /proc counts CPU time in; 100 on every Linux architecture the agent is built for. */
const TICK_NS = 10_000_000;

/** A host-mode job's reading: CPU time and resident memory summed over its processes. */
export function hostUsage(jobId: string): UsageReading {
  let ticks = 0;
  let rss = 0;
  for (const pid of jobProcesses(jobId)) {
    try {
      ticks += parseProcStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      rss += parseVmRssBytes(readFileSync(`/proc/${pid}/status`, 'utf8'));
    } catch {
      /* gone meanwhile */
    }
  }
  return { cpuNs: ticks * TICK_NS, memoryUsageBytes: rss, memoryWorkingSetBytes: rss };
}

/**
 * CPU use between two readings, in percent of one CPU (dstack's cpu_usage_percent). A host job's
 * sum can drop when a process whose parent is not in the job exits: that counts as 0, never less.
 */
export function cpuPercent(prev: { atMs: number; cpuNs: number }, cur: { atMs: number; cpuNs: number }): number {
  const wallNs = (cur.atMs - prev.atMs) * 1e6;
  if (wallNs <= 0) return 0;
  return Math.max(0, ((cur.cpuNs - prev.cpuNs) / wallNs) * 100);
}
