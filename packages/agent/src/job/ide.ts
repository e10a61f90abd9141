// IDE server pre-install: with `ide: vscode|cursor|windsurf` and a known commit, the server tarball
// is downloaded by the agent into the job's folder (https only, size-capped, its sha256 checked
// against the vendor's where one is published: ide-download.ts; progress in the job's log), then
// unpacked inside the target into the user's home, where the IDE's Remote-SSH looks first, so the
// first connect does not wait for it. URLs are templates ({commit}, {arch}, {version}) that an env
// var on the agent overrides. Any failure is a warning in the log, never a failed job: the IDE can
// still install it itself.
import { createReadStream, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { IdeSpec } from '@dstack/core/gen/agent';
import { shellWord } from '@dstack/core/quoting';
import type { Runtime, RuntimeJob } from '../runtime/runtime';
import { downloadChecked, mib, publishedSha256 } from './ide-download';

interface IdeServer {
  envVar: string;
  url: string;
  /**
   * Where the vendor publishes the tarball's sha256 (VS Code's update API: JSON with `sha256hash`),
   * and the env var that overrides it (a mirror's copy of the answer). Cursor and Windsurf publish
   * none for their servers: theirs are checked for https and size only.
   */
  sha256?: { envVar: string; url: string };
  /** Relative to $HOME. */
  dir: string;
}

export const IDE_SERVERS: Record<string, IdeServer> = {
  vscode: {
    envVar: 'DSTACK_VSCODE_SERVER_URL',
    url: 'https://update.code.visualstudio.com/commit:{commit}/server-linux-{arch}/stable',
    sha256: {
      envVar: 'DSTACK_VSCODE_SERVER_SHA256_URL',
      url: 'https://update.code.visualstudio.com/api/versions/commit:{commit}/server-linux-{arch}/stable',
    },
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
  /** The update API URL whose answer has the tarball's sha256; none: the vendor publishes none. */
  sha256Url?: string;
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
  const sha256Url = server.sha256 && fill(env[server.sha256.envVar] || server.sha256.url);
  return { name: ide.name, url: fill(env[server.envVar] || server.url), ...(sha256Url && { sha256Url }), dir: fill(server.dir) };
}

/**
 * Downloads and unpacks the server (see the top of this file); `downloadDir`: a folder of the
 * agent's own (the job's), where the tarball waits for its check.
 */
export async function installIdeServer(runtime: Runtime, job: RuntimeJob, signal: AbortSignal, downloadDir: string): Promise<void> {
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
  const tarball = join(downloadDir, 'ide-server.tar.gz');
  try {
    // Without the published hash there is nothing to check the download against: no install.
    const sha256 = plan.sha256Url ? await publishedSha256(plan.sha256Url, { signal }) : undefined;
    job.note(`downloading the ${plan.name} server from ${plan.url}`);
    let lastNote = Date.now();
    const { bytes } = await downloadChecked(plan.url, tarball, {
      signal,
      sha256,
      onProgress: (done, total) => {
        if (Date.now() - lastNote < 2000) return;
        lastNote = Date.now();
        job.note(`downloading the ${plan.name} server: ${mib(done)}${total ? ` of ${mib(total)}` : ''}`);
      },
    });
    let errors = '';
    const unpack = `set -e; d=${dir}; rm -rf "$d.part"; mkdir -p "$d.part"; tar -xzof - --strip-components 1 -C "$d.part"; rm -rf "$d"; mv "$d.part" "$d"`;
    const code = await runtime.exec(job, unpack, (s, d) => s === 'stderr' && (errors += d.toString()), {
      stdin: createReadStream(tarball),
      signal,
    });
    if (code !== 0) throw new Error(`unpacking failed (exit code ${code}): ${errors.trim().split('\n').pop() ?? ''}`);
    const checked = sha256 ? 'sha256 as published' : `no published sha256 for ${plan.name} to check`;
    job.note(`installed the ${plan.name} server (${mib(bytes)}, ${checked}) in ~/${plan.dir}`);
  } catch (err) {
    job.note(`warning: the ${plan.name} server was not pre-installed: ${(err as Error).message}; the IDE will install it on first connect`);
  } finally {
    rmSync(tarball, { force: true });
  }
}
