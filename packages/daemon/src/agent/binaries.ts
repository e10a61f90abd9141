// The agent executables the daemon ships: dist/agent/dstack-agent-linux-{x64,arm64}, next to
// dist/daemon.cjs (DSTACK_AGENT_DIR overrides). Their sha256 is what every deployed agent must
// report in its handshake.
import { sha256File } from '@dstack/core/hash';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { createGzip } from 'node:zlib';

/** How long a compressed agent stays in memory after its last use (a fleet's hosts deploy together). */
const GZIP_KEEP_MS = 5 * 60_000;

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
  private gzipped = new Map<string, { data: Promise<Buffer>; timer?: NodeJS.Timeout }>();

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
    const sha256 = await sha256File(path);
    this.cache.set(path, { mtimeMs: st.mtimeMs, size: st.size, sha256 });
    return { arch, path, sha256, size: st.size };
  }

  private keep(sha256: string, entry: { timer?: NodeJS.Timeout }): void {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = setTimeout(() => this.gzipped.delete(sha256), GZIP_KEEP_MS);
    entry.timer.unref();
  }

  /**
   * The executable gzip'd (level 1). The first upload compresses it as it sends it, and what it
   * compressed is kept for a while: hosts deployed together (a fleet) compress it once, not once each.
   */
  gzipStream(bin: AgentBinary): Readable {
    const kept = this.gzipped.get(bin.sha256);
    if (kept) {
      this.keep(bin.sha256, kept);
      const again = () => this.gzipStream(bin);
      return Readable.from(
        (async function* () {
          const data = await kept.data.catch(() => undefined);
          // The compression it waited for was cut short (its upload failed): compress anew.
          if (!data) return yield* again();
          // In pieces: uploads report progress and keep their flow control.
          for (let at = 0; at < data.length; at += 1 << 20) yield data.subarray(at, at + (1 << 20));
        })(),
      );
    }
    const chunks: Buffer[] = [];
    const source = createReadStream(bin.path);
    const gz = source.pipe(createGzip({ level: 1 }));
    source.once('error', (err) => gz.destroy(err));
    const data = new Promise<Buffer>((resolve, reject) => {
      gz.on('data', (c: Buffer) => chunks.push(c));
      gz.once('end', () => resolve(Buffer.concat(chunks)));
      gz.once('error', reject);
      gz.once('close', () => reject(new Error('compression stopped')));
    });
    const entry: { data: Promise<Buffer>; timer?: NodeJS.Timeout } = { data };
    this.gzipped.set(bin.sha256, entry);
    this.keep(bin.sha256, entry);
    data.catch(() => {
      if (this.gzipped.get(bin.sha256) === entry) this.gzipped.delete(bin.sha256);
    });
    const out = new PassThrough();
    gz.pipe(out);
    gz.once('error', (err) => out.destroy(err));
    out.once('close', () => {
      if (!gz.readableEnded) gz.destroy();
    });
    return out;
  }
}
