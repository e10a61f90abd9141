// IDE server pre-install: with `ide: vscode|cursor|windsurf` and a known commit, the server tarball
// is downloaded by the agent (progress in the job's log) and unpacked inside the target into the
// user's home, where the IDE's Remote-SSH looks first, so the first connect does not wait for it.
// URLs are templates ({commit}, {arch}, {version}) that an env var on the agent overrides. Any
// failure is a warning in the log, never a failed job: the IDE can still install it itself.
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { Transform } from 'node:stream';
import type { IdeSpec } from '@dstack/core/gen/agent';
import { shellWord } from '@dstack/core/quoting';
import { type Runtime, type RuntimeJob } from '../runtime/runtime';

interface IdeServer {
  envVar: string;
  url: string;
  /** Relative to $HOME. */
  dir: string;
}

export const IDE_SERVERS: Record<string, IdeServer> = {
  vscode: {
    envVar: 'DSTACK_VSCODE_SERVER_URL',
    url: 'https://update.code.visualstudio.com/commit:{commit}/server-linux-{arch}/stable',
    dir: '.vscode-server/bin/{commit}',
  },
  cursor: {
    envVar: 'DSTACK_CURSOR_SERVER_URL',
    url: 'https://cursor.blob.core.windows.net/remote-releases/{commit}/vscode-reh-linux-{arch}.tar.gz',
    dir: '.cursor-server/cli/servers/Stable-{commit}/server',
  },
  windsurf: {
    // Windsurf's version is "VERSION@COMMIT"; its tarball name carries both.
    envVar: 'DSTACK_WINDSURF_SERVER_URL',
    url: 'https://windsurf-stable.codeiumdata.com/linux-reh-{arch}/stable/{commit}/windsurf-reh-linux-{arch}-{version}.tar.gz',
    dir: '.windsurf-server/bin/{commit}',
  },
};

export interface IdePlan {
  name: string;
  url: string;
  dir: string;
}

/** What to download and where, or undefined when there is nothing to pre-install. */
export function idePlan(ide: IdeSpec | undefined, arch: string, env: NodeJS.ProcessEnv = process.env): IdePlan | undefined {
  if (!ide?.name || !ide.version) return undefined;
  const server = IDE_SERVERS[ide.name];
  if (!server) return undefined;
  const [version, commit] = ide.version.includes('@') ? ide.version.split('@', 2) : ['', ide.version];
  if (!/^[A-Za-z0-9._-]+$/.test(commit) || (version && !/^[A-Za-z0-9._-]+$/.test(version))) return undefined;
  const fill = (t: string) => t.replaceAll('{commit}', commit).replaceAll('{arch}', arch).replaceAll('{version}', version);
  return { name: ide.name, url: fill(env[server.envVar] || server.url), dir: fill(server.dir) };
}

function fetchFollowing(url: string, redirects = 5): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const get = url.startsWith('https:') ? httpsGet : httpGet;
    const req = get(url, { timeout: 60_000 }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location && redirects > 0) {
        res.resume();
        resolve(fetchFollowing(new URL(res.headers.location, url).href, redirects - 1));
      } else if (status !== 200) {
        res.resume();
        reject(new Error(`HTTP ${status} from ${url}`));
      } else resolve(res);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} in 60 s`)));
    req.on('error', reject);
  });
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

export async function installIdeServer(runtime: Runtime, job: RuntimeJob, signal: AbortSignal): Promise<void> {
  if (!job.spec.ide?.name || !job.spec.ide.version) return;
  const quiet = () => {};
  let machine = '';
  await runtime.exec(job, 'uname -m', (_s, d) => (machine += d.toString()), { signal });
  const arch = machine.trim() === 'aarch64' ? 'arm64' : 'x64';
  const plan = idePlan(job.spec.ide, arch);
  if (!plan) {
    job.note(`warning: no ${job.spec.ide.name} server pre-install for version ${JSON.stringify(job.spec.ide.version)}`);
    return;
  }
  const dir = `"$HOME"/${shellWord(plan.dir)}`;
  if ((await runtime.exec(job, `[ -d ${dir} ]`, quiet, { signal })) === 0) {
    job.note(`${plan.name} server is already installed in ~/${plan.dir}`);
    return;
  }
  job.note(`downloading the ${plan.name} server from ${plan.url}`);
  try {
    const res = await fetchFollowing(plan.url);
    const total = Number(res.headers['content-length'] ?? 0);
    let done = 0;
    let lastNote = Date.now();
    const progress = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        done += chunk.length;
        if (Date.now() - lastNote > 2000) {
          lastNote = Date.now();
          job.note(`downloading the ${plan.name} server: ${mib(done)}${total ? ` of ${mib(total)}` : ''}`);
        }
        cb(null, chunk);
      },
    });
    res.on('error', (err) => progress.destroy(err));
    signal.addEventListener('abort', () => res.destroy(new Error('aborted')), { once: true });
    let errors = '';
    const unpack = `set -e; d=${dir}; rm -rf "$d.part"; mkdir -p "$d.part"; tar -xzof - --strip-components 1 -C "$d.part"; rm -rf "$d"; mv "$d.part" "$d"`;
    const code = await runtime.exec(job, unpack, (s, d) => s === 'stderr' && (errors += d.toString()), { stdin: res.pipe(progress), signal });
    if (code !== 0) throw new Error(`unpacking failed (exit code ${code}): ${errors.trim().split('\n').pop() ?? ''}`);
    job.note(`installed the ${plan.name} server (${mib(done)}) in ~/${plan.dir}`);
  } catch (err) {
    job.note(`warning: the ${plan.name} server was not pre-installed: ${(err as Error).message}; the IDE will install it on first connect`);
  }
}
