// Shared by the fleet suites: SSH test hosts (network namespaces, each its own sshd with key auth
// only, a private /root; one reachable only through a jump host), a sandboxed user (temp HOME and
// DSTACK_HOME) running the built CLI, and the daemon's own API on its socket where a test reads
// what the CLI does not print (FleetEvents).
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials, Metadata } from '@grpc/grpc-js';
import { DaemonClient, type ApplyFleetRequest, type ConfigurationSource, type Fleet, type FleetEvent } from '@dstack/core/gen/daemon';
import { mustDstack, sandbox, type Sandbox } from '../cli/helpers';
import type { TestHost, TestHostNetwork } from '../harness/ssh-hosts';
import { run } from '../harness/util';

export { createTestHosts } from '../harness/ssh-hosts';

/** The agent's folder on a fleet host (the SSH user's home is /root on the test hosts). */
export const AGENT_DIR = '/root/.dstack-agent';

/** A user whose daemon gives up on a silent host after `grace` (config.yml instance_unreachable_after). */
export function fleetSandbox(prefix: string, opts: { grace?: string } = {}): Sandbox {
  // No engine for the local agent either: the fleet hosts have none, and nothing here needs one.
  const sb = sandbox(prefix, { dockerHost: 'unix:///nonexistent' });
  if (opts.grace) appendFileSync(join(sb.dstackHome, 'config.yml'), `instance_unreachable_after: ${opts.grace}\n`);
  return sb;
}

/** A fleet file for the given hosts: root with the network's key; a host behind a jump host names it. */
export function fleetYaml(net: TestHostNetwork, name: string, hosts: TestHost[]): string {
  const lines = ['type: fleet', `name: ${name}`, 'ssh_config:', '  user: root', `  identity_file: ${net.keyPath}`, '  hosts:'];
  for (const h of hosts) {
    if (!h.via) {
      lines.push(`    - ${h.address}`);
      continue;
    }
    lines.push(
      `    - hostname: ${h.address}`,
      '      proxy_jump:',
      `        hostname: ${h.via.address}`,
      '        user: root',
      `        identity_file: ${net.keyPath}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export async function listFleets(sb: Sandbox, all = false): Promise<Fleet[]> {
  const res = await mustDstack(sb, ['fleet', '--json', ...(all ? ['-a'] : [])], { timeoutMs: 60_000 });
  return (JSON.parse(res.stdout).fleets ?? []).map((f: unknown) => (f && typeof f === 'object' ? f : {})) as Fleet[];
}

/** ApplyFleet on the daemon's socket (the CLI started the daemon): every event, in order. */
export async function applyFleetEvents(
  sb: Sandbox,
  req: Partial<ApplyFleetRequest> & { configuration: ConfigurationSource },
): Promise<FleetEvent[]> {
  const client = new DaemonClient(`unix://${join(sb.dstackHome, 'daemon.sock')}`, credentials.createInsecure());
  try {
    return await new Promise((resolve, reject) => {
      const events: FleetEvent[] = [];
      const s = client.applyFleet({ fleetName: '', force: false, redeploy: false, acceptedHostKeys: [], ...req }, new Metadata());
      s.on('data', (e: FleetEvent) => events.push(e));
      s.on('error', reject);
      s.on('end', () => resolve(events));
    });
  } finally {
    client.close();
  }
}

/** Processes inside a host's network namespace whose command line or environment names `needle`. */
export async function processesIn(host: TestHost, needle: string): Promise<string[]> {
  const pids = (await run('ip', ['netns', 'pids', host.ns])).stdout.split('\n').filter(Boolean);
  const found: string[] = [];
  for (const pid of pids) {
    for (const f of ['cmdline', 'environ']) {
      try {
        const text = readFileSync(`/proc/${pid}/${f}`, 'utf8').replace(/\0/g, ' ');
        if (text.includes(needle)) {
          found.push(`${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()}`);
          break;
        }
      } catch {
        // exited meanwhile
      }
    }
  }
  return found;
}

/** Jobs the agent on a host knows, asked with the agent's own `call` command on the host. */
export async function agentJobs(host: TestHost): Promise<string[]> {
  const res = await host.exec(`${AGENT_DIR}/bin/dstack-agent call --data-dir ${AGENT_DIR} ListJobs`);
  if (res.code !== 0) throw new Error(`ListJobs on ${host.name}: ${res.stderr || res.stdout}`);
  return ((JSON.parse(res.stdout).jobs ?? []) as { spec?: { jobId: string } }[]).map((j) => j.spec?.jobId ?? '?');
}

/** Names in a host's private home (as this machine sees it). */
export function homeEntries(host: TestHost): string[] {
  return readdirSync(host.homeDir);
}

/** A dev environment for one of the fleets, in host mode on the test hosts. */
export function devEnvYaml(name: string, extra = ''): string {
  return `${['type: dev-environment', `name: ${name}`, 'resources:', '  cpu: 1..', '  memory: 1GB..', '  disk: 1GB..', extra].join('\n')}\n`;
}
