// What a Slurm cluster says about itself, read over SSH on its login node with the standard client
// tools (Slurm 22.05 and later): `sinfo -N -O` for nodes (CPUs, memory, GPU gres and what of them is
// allocated, per partition) and `squeue -o` for this user's jobs. Pure parsing and building, so the
// formats are unit-tested against real output of the daemons in test/clusters.
import type { Offer } from '@dstack/core/gen/daemon';
import type { ResourcesSpec } from '@dstack/core/resources/types';
import { shellWord } from '@dstack/core/quoting';

export const SLURM_BACKEND = 'slurm';

/** `sinfo -h -N -O` fields, `|` after each: one line per node and partition. */
export const SINFO_FORMAT = 'NodeList:|,Partition:|,StateLong:|,CPUsState:|,Memory:|,AllocMem:|,Gres:|,GresUsed:|,NodeAddr:|';

/** `squeue -h -o` fields: id, name, state, reason, node list. */
export const SQUEUE_FORMAT = '%i|%j|%T|%r|%N';

export interface GresGpu {
  /** The gres type (`h100`), '' when the node gives none. */
  type: string;
  count: number;
}

export interface SlurmNode {
  name: string;
  addr: string;
  partitions: string[];
  /** sinfo's long state: idle, mixed, allocated, down*, drained, ... */
  state: string;
  cpus: number;
  cpusFree: number;
  memoryMb: number;
  memoryFreeMb: number;
  gpus: GresGpu[];
  gpusUsed: number;
}

export interface SlurmJob {
  id: string;
  name: string;
  /** PENDING, RUNNING, COMPLETING, NODE_FAIL, ... */
  state: string;
  reason: string;
  nodes: string;
}

/** `gpu:h100:2(S:0-1),gpu:1` → the GPU entries (other gres kinds are left out). */
export function parseGres(field: string): GresGpu[] {
  const out: GresGpu[] = [];
  if (!field || field === '(null)') return out;
  for (const part of field.split(/,(?=[a-z])/i)) {
    const m = /^gpu(?::([^:(]+))?:(\d+)/.exec(part.trim());
    if (m) out.push({ type: m[1] ?? '', count: Number(m[2]) });
  }
  return out;
}

function number(v: string | undefined): number {
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
}

/** sinfo's lines, one node each with all its partitions. */
export function parseSinfo(text: string): SlurmNode[] {
  const nodes = new Map<string, SlurmNode>();
  for (const line of text.split('\n')) {
    const f = line.split('|').map((s) => s.trim());
    if (f.length < 9 || !f[0]) continue;
    const partition = f[1].replace(/\*$/, '');
    const known = nodes.get(f[0]);
    if (known) {
      if (!known.partitions.includes(partition)) known.partitions.push(partition);
      continue;
    }
    // CPUsState: allocated/idle/other/total.
    const [, idle, , total] = f[3].split('/').map(number);
    const memory = number(f[4]);
    nodes.set(f[0], {
      name: f[0],
      addr: f[8] || f[0],
      partitions: [partition],
      state: f[2],
      cpus: total,
      cpusFree: idle,
      memoryMb: memory,
      memoryFreeMb: Math.max(0, memory - number(f[5])),
      gpus: parseGres(f[6]),
      gpusUsed: parseGres(f[7]).reduce((n, g) => n + g.count, 0),
    });
  }
  return [...nodes.values()];
}

export function parseSqueue(text: string): SlurmJob[] {
  return text
    .split('\n')
    .map((l) => l.split('|'))
    .filter((f) => f.length >= 5 && f[0].trim())
    .map(([id, name, state, reason, nodes]) => ({ id: id.trim(), name, state, reason, nodes: nodes.trim() }));
}

/** A node the scheduler can place jobs on now or later: not down, drained, failed or powered off. */
export function schedulable(state: string): boolean {
  return !/down|drain|fail|maint|power|reserved|unknown|future|inval|not_responding|\*/.test(state);
}

/** `h100` → H100 (dstack's GPU names are upper case); AMD's Instinct names start with MI. */
function gpuOf(type: string, count: number) {
  const name = (type || 'gpu').toUpperCase();
  return { vendor: name.startsWith('MI') ? 'amd' : 'nvidia', name, memoryGb: 0, count };
}

/** The smallest amount within [min, max] of what the node has; the node's all when the spec asks more (the planner then says why it does not fit). */
function want(range: { min: number | null; max: number | null } | undefined, fallback: number, has: number): number {
  const min = range?.min ?? fallback;
  return min > has ? has : Math.max(min, Math.min(fallback, has, range?.max ?? Number.POSITIVE_INFINITY));
}

/**
 * Offers: one per partition and node shape (CPUs, memory, GPUs), the region the cluster's name, the
 * instance type the partition. Slurm places the job on any node of the partition, so the offer is
 * for the partition; with a resource spec, the resources are what the job asks Slurm for (dstack's
 * slurm backend adjusts its offers the same way). A busy node is still offered: the job waits in
 * Slurm's queue. Disk is not a Slurm resource (the home is shared): it is offered as asked.
 */
export function offersFor(cluster: string, nodes: SlurmNode[], spec?: ResourcesSpec, only?: string[] | null): Offer[] {
  const groups = new Map<string, { partition: string; node: SlurmNode; up: boolean }>();
  for (const n of nodes) {
    for (const p of n.partitions) {
      if (only && !only.includes(p)) continue;
      const key = `${p}\0${n.cpus}\0${n.memoryMb}\0${JSON.stringify(n.gpus)}`;
      const g = groups.get(key);
      if (g) g.up ||= schedulable(n.state);
      else groups.set(key, { partition: p, node: n, up: schedulable(n.state) });
    }
  }
  return [...groups.values()].map(({ partition, node, up }) => {
    const gpuTotal = node.gpus.reduce((s, g) => s + g.count, 0);
    const gpuWanted = spec ? want(spec.gpu.count, 0, gpuTotal) : gpuTotal;
    const gpuType = node.gpus[0]?.type ?? '';
    return {
      backend: SLURM_BACKEND,
      region: cluster,
      instanceType: partition,
      resources: {
        cpus: spec ? want(spec.cpu.count, 1, node.cpus) : node.cpus,
        cpuArch: 'x86',
        memoryGb: spec ? want(spec.memory, 1, node.memoryMb / 1024) : node.memoryMb / 1024,
        diskGb: spec?.disk.size.min ?? 100,
        gpus: gpuWanted ? [gpuOf(gpuType, gpuWanted)] : [],
        spot: false,
      },
      spot: false,
      price: 0,
      availability: up ? 'available' : 'not_available',
      instanceName: '',
      fleet: '',
    };
  });
}

/** Free of total now, one line per node: what `dstack backend list --check` shows. */
export function describeNodes(nodes: SlurmNode[], only?: string[] | null): string {
  return nodes
    .filter((n) => !only || n.partitions.some((p) => only.includes(p)))
    .map((n) => {
      const gpus = n.gpus.reduce((s, g) => s + g.count, 0);
      const gpu = gpus ? `, GPU ${gpus - n.gpusUsed}/${gpus} ${n.gpus.map((g) => g.type || 'gpu').join('+')}` : '';
      return `${n.name} (${n.partitions.join(',')}, ${n.state}): CPU ${n.cpusFree}/${n.cpus}, memory ${Math.floor(n.memoryFreeMb / 1024)}/${Math.floor(n.memoryMb / 1024)}GB${gpu} free`;
    })
    .join('; ');
}

export interface BatchOptions {
  jobName: string;
  partition: string;
  cpus: number;
  memoryMb: number;
  gpus: number;
  /** The gres type to ask for; '' any. */
  gpuType: string;
  /** `--time`, minutes; 0: the partition's default. */
  timeMinutes: number;
  /** Where the job's agent keeps its data (on the shared home). */
  dataDir: string;
  binPath: string;
  socketPath: string;
  logFile: string;
  /** How long the job waits for the daemon to place and start the agent before it gives up. */
  startWaitS: number;
}

/**
 * The batch script: the job's step runs on the allocated node with what Slurm set for it (GPUs in
 * CUDA_VISIBLE_DEVICES, SLURM_JOB_GPUS), and waits for the daemon, which uploads the agent through
 * the node and writes `start`; the agent then runs in host mode as the job's own process, so it and
 * everything it starts live in the allocation and end with it. A restarted agent (a new daemon
 * version) waits for the next `start`. No Docker engine is used: the run is on the host.
 */
export function batchScript(o: BatchOptions): string {
  const d = shellWord(o.dataDir);
  const directives = [
    `--job-name=${o.jobName}`,
    `--output=${o.dataDir}/slurm-%j.out`,
    // A node failure ends the job (NODE_FAIL) instead of starting it again elsewhere: the daemon
    // sees an interruption and applies the run's retry policy.
    '--no-requeue',
    `--partition=${o.partition}`,
    '--nodes=1',
    '--ntasks=1',
    `--cpus-per-task=${Math.max(1, Math.round(o.cpus))}`,
    `--mem=${Math.max(1, Math.round(o.memoryMb))}M`,
    ...(o.gpus ? [`--gres=gpu:${o.gpuType ? `${o.gpuType}:` : ''}${o.gpus}`] : []),
    ...(o.timeMinutes ? [`--time=${o.timeMinutes}`] : []),
  ];
  return [
    '#!/bin/sh',
    ...directives.map((d) => `#SBATCH ${d}`),
    `D=${d}`,
    'export DOCKER_HOST="unix://$D/no-docker.sock"',
    'waited=0',
    'while :; do',
    '  while [ ! -e "$D/start" ]; do',
    `    if [ "$waited" -ge ${o.startWaitS} ]; then echo "no agent started within ${o.startWaitS}s" >&2; exit 1; fi`,
    '    sleep 1; waited=$((waited + 1))',
    '  done',
    '  rm -f "$D/start"; waited=0',
    `  ${shellWord(o.binPath)} serve --data-dir "$D" --socket ${shellWord(o.socketPath)} --log-file ${shellWord(o.logFile)} </dev/null >>"$D/agent.stdout" 2>&1`,
    'done',
    '',
  ].join('\n');
}

/** The job's end as the daemon tells it: taken back (a node failure, preemption) or ended otherwise. */
export function jobEnd(state: string, reason: string): { interrupted: boolean; what: string } | undefined {
  if (['PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING', 'SUSPENDED', 'RESIZING', 'REQUEUED', 'REQUEUE_HOLD', 'SIGNALING'].includes(state))
    return undefined;
  const interrupted = ['NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL'].includes(state);
  return { interrupted, what: `${state}${reason && reason !== 'None' ? ` (${reason})` : ''}` };
}
