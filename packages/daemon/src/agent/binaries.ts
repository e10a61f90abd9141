// The agent executables the daemon ships: dist/agent/dstack-agent-linux-{x64,arm64}, next to
// dist/daemon.cjs (DSTACK_AGENT_DIR overrides). Their sha256 is what every deployed agent must
// report in its handshake.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface AgentBinary {
  arch: 'x64' | 'arm64';
  path: string;
  sha256: string;
  size: number;
}

export function defaultAgentDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DSTACK_AGENT_DIR) return env.DSTACK_AGENT_DIR;
  // The bundle runs as dist/daemon.cjs: its agents are in dist/agent.
  return join(dirname(process.argv[1] ?? '.'), 'agent');
}

/** `uname -m` → the build's arch name. */
export function archOf(unameM: string): 'x64' | 'arm64' {
  const m = unameM.trim();
  if (m === 'x86_64' || m === 'amd64') return 'x64';
  if (m === 'aarch64' || m === 'arm64') return 'arm64';
  throw new Error(`unsupported CPU architecture ${JSON.stringify(m)}: the agent is built for x86_64 and aarch64`);
}

export class AgentBinaries {
  private cache = new Map<string, { mtimeMs: number; size: number; sha256: string }>();

  constructor(readonly dir: string) {}

  async forArch(arch: 'x64' | 'arm64'): Promise<AgentBinary> {
    const path = join(this.dir, `dstack-agent-linux-${arch}`);
    if (!existsSync(path)) {
      throw new Error(
        `no agent executable for linux-${arch} at ${path}` +
          (arch === 'x64' ? ': build it with `npm run build:agent`' : ' (set DSTACK_AGENT_DIR to a folder that has it)'),
      );
    }
    const st = statSync(path);
    const c = this.cache.get(path);
    if (c && c.mtimeMs === st.mtimeMs && c.size === st.size) return { arch, path, sha256: c.sha256, size: st.size };
    const sha256 = await new Promise<string>((resolve, reject) => {
      const h = createHash('sha256');
      createReadStream(path)
        .on('data', (d) => h.update(d))
        .on('error', reject)
        .on('end', () => resolve(h.digest('hex')));
    });
    this.cache.set(path, { mtimeMs: st.mtimeMs, size: st.size, sha256 });
    return { arch, path, sha256, size: st.size };
  }
}
