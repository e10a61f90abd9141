// IDE server pre-install: with `ide: vscode|cursor|windsurf` and a known commit, the server tarball
// is downloaded by the agent into the job's folder (https only, size-capped, its sha256 checked
// against the vendor's where one is published: ide-download.ts; progress in the job's log), then
// unpacked inside the target into the user's home, where the IDE's Remote-SSH looks first, so the
// first connect does not wait for it. URLs are templates ({commit}, {arch}, {version}) that an env
// var on the agent overrides. Any failure is a warning in the log, never a failed job: the IDE can
// still install it itself.
//
// Then, as dstack does, the Python and Jupyter extensions (IDE_EXTENSIONS), through the server's own
// command line (`code-server --install-extension ID`, from its own gallery: the VS Code Marketplace
// for VS Code), skipping those it lists as installed. With DSTACK_<IDE>_EXTENSION_URL set (a mirror,
// the tests), the agent downloads each VSIX from that template ({publisher}, {name}; https only,
// size-capped, gzip undone) and the server installs it from the file. A failure is a warning.
import { closeSync, createReadStream, openSync, readSync, rmSync } from 'node:fs';
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
  /** The server's command line, in `dir`/bin: it installs extensions. */
  cli: string;
  /** The env var with a URL template each extension's VSIX is downloaded from instead of the server's gallery. */
  extensionEnvVar: string;
}

/** The extensions dstack pre-installs in a dev environment's IDE server (its ide_extensions). */
export const IDE_EXTENSIONS = ['ms-python.python', 'ms-toolsai.jupyter'];

/** How long one extension's install may take (an unreachable gallery must not hold the job). */
const EXTENSION_TIMEOUT_MS = 5 * 60_000;

export const IDE_SERVERS: Record<string, IdeServer> = {
  vscode: {
    envVar: 'DSTACK_VSCODE_SERVER_URL',
    url: 'https://update.code.visualstudio.com/commit:{commit}/server-linux-{arch}/stable',
    sha256: {
      envVar: 'DSTACK_VSCODE_SERVER_SHA256_URL',
      url: 'https://update.code.visualstudio.com/api/versions/commit:{commit}/server-linux-{arch}/stable',
    },
    dir: '.vscode-server/bin/{commit}',
    cli: 'code-server',
    extensionEnvVar: 'DSTACK_VSCODE_EXTENSION_URL',
  },
  cursor: {
    envVar: 'DSTACK_CURSOR_SERVER_URL',
    url: 'https://cursor.blob.core.windows.net/remote-releases/{commit}/vscode-reh-linux-{arch}.tar.gz',
    dir: '.cursor-server/cli/servers/Stable-{commit}/server',
    cli: 'cursor-server',
    extensionEnvVar: 'DSTACK_CURSOR_EXTENSION_URL',
  },
  windsurf: {
    // Windsurf's version is "VERSION@COMMIT"; its tarball name carries both.
    envVar: 'DSTACK_WINDSURF_SERVER_URL',
    url: 'https://windsurf-stable.codeiumdata.com/linux-reh-{arch}/stable/{commit}/windsurf-reh-linux-{arch}-{version}.tar.gz',
    dir: '.windsurf-server/bin/{commit}',
    cli: 'windsurf-server',
    extensionEnvVar: 'DSTACK_WINDSURF_EXTENSION_URL',
  },
};

export interface IdePlan {
  name: string;
  url: string;
  /** The update API URL whose answer has the tarball's sha256; none: the vendor publishes none. */
  sha256Url?: string;
  dir: string;
  /** The server's command line, relative to $HOME. */
  cli: string;
  /** The URL template ({publisher}, {name}) of the extensions' VSIX files; none: the server's own gallery. */
  extensionUrl?: string;
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
  const extensionTemplate = env[server.extensionEnvVar];
  const dir = fill(server.dir);
  return {
    name: ide.name,
    url: fill(env[server.envVar] || server.url),
    ...(sha256Url && { sha256Url }),
    dir,
    cli: `${dir}/bin/${server.cli}`,
    ...(extensionTemplate && { extensionUrl: extensionTemplate }),
  };
}

/**
 * Downloads and unpacks the server (see the top of this file); `downloadDir`: a folder of the
 * agent's own (the job's), where the tarball waits for its check.
 */
export async function installIdeServer(runtime: Runtime, job: RuntimeJob, signal: AbortSignal, downloadDir: string): Promise<void> {
  // Zed installs its remote server itself on the first connect (~/.zed_server), matching the client.
  if (job.spec.ide?.name === 'zed') return;
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
  } else if (!(await downloadServer(runtime, job, plan, dir, signal, downloadDir))) return;
  await installExtensions(runtime, job, plan, signal, downloadDir);
}

/** The server downloaded and unpacked in `dir`; false (with a warning in the log) when it is not. */
async function downloadServer(
  runtime: Runtime,
  job: RuntimeJob,
  plan: IdePlan,
  dir: string,
  signal: AbortSignal,
  downloadDir: string,
): Promise<boolean> {
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
    return true;
  } catch (err) {
    job.note(`warning: the ${plan.name} server was not pre-installed: ${(err as Error).message}; the IDE will install it on first connect`);
    return false;
  } finally {
    rmSync(tarball, { force: true });
  }
}

/** `publisher.name` as the extension URL template's {publisher} and {name}; undefined for another form. */
export function extensionUrlFor(template: string, id: string): string | undefined {
  const m = /^([A-Za-z0-9][A-Za-z0-9-]*)\.([A-Za-z0-9][A-Za-z0-9-]*)$/.exec(id);
  if (!m) return undefined;
  return template.replaceAll('{publisher}', m[1]).replaceAll('{name}', m[2]);
}

/**
 * IDE_EXTENSIONS the server does not list yet, installed through its command line: by name from
 * its own gallery, or from a VSIX the agent downloaded (plan.extensionUrl). Never fails the job.
 */
async function installExtensions(runtime: Runtime, job: RuntimeJob, plan: IdePlan, signal: AbortSignal, downloadDir: string) {
  const cli = `"$HOME"/${shellWord(plan.cli)}`;
  let listed = '';
  let errors = '';
  const collect = (s: string, d: Buffer) => (s === 'stdout' ? (listed += d.toString()) : (errors += d.toString()));
  const code = await runtime.exec(job, `${cli} --list-extensions`, collect, { signal });
  if (signal.aborted) return;
  if (code !== 0) {
    job.note(
      `warning: the ${plan.name} extensions were not installed: \`${plan.cli.split('/').pop()} --list-extensions\` exited ${code}: ${lastLine(errors)}`,
    );
    return;
  }
  const have = new Set(listed.split('\n').map((l) => l.trim().toLowerCase()));
  const missing = IDE_EXTENSIONS.filter((id) => !have.has(id.toLowerCase()));
  if (!missing.length) {
    job.note(`the ${plan.name} extensions are already installed: ${IDE_EXTENSIONS.join(', ')}`);
    return;
  }
  for (const id of missing) {
    if (signal.aborted) return;
    const vsix = join(downloadDir, 'ide-extension.vsix');
    const timeout = AbortSignal.any([signal, AbortSignal.timeout(EXTENSION_TIMEOUT_MS)]);
    try {
      let out = '';
      const keep = (_s: string, d: Buffer) => (out += d.toString());
      let exit: number;
      if (plan.extensionUrl) {
        const url = extensionUrlFor(plan.extensionUrl, id);
        if (!url) throw new Error(`${JSON.stringify(id)} is not publisher.name`);
        job.note(`downloading the ${id} extension from ${url}`);
        const { bytes } = await downloadChecked(url, vsix, { signal: timeout, gunzip: true });
        if (!isZip(vsix)) throw new Error(`${url}: not a VSIX (zip) file`);
        // The file goes in through stdin: the agent's folder is not the target's.
        const install = `set -e; d=$(mktemp -d); trap 'rm -rf "$d"' EXIT; cat > "$d"/${shellWord(id)}.vsix; ${cli} --install-extension "$d"/${shellWord(id)}.vsix`;
        exit = await runtime.exec(job, install, keep, { stdin: createReadStream(vsix), signal: timeout });
        if (exit === 0) job.note(`installed the ${id} extension (${mib(bytes)}) in the ${plan.name} server`);
      } else {
        exit = await runtime.exec(job, `${cli} --install-extension ${shellWord(id)}`, keep, { signal: timeout });
        if (exit === 0) job.note(`installed the ${id} extension in the ${plan.name} server`);
      }
      if (exit !== 0 && !timeout.aborted) throw new Error(`the server's install exited ${exit}: ${lastLine(out)}`);
      if (exit !== 0) throw new Error('timed out');
    } catch (err) {
      if (signal.aborted) return;
      const why = timeout.aborted ? `no end in ${EXTENSION_TIMEOUT_MS / 60_000} minutes` : (err as Error).message;
      job.note(`warning: the ${id} extension was not installed: ${why}; install it from the IDE`);
    } finally {
      rmSync(vsix, { force: true });
    }
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

/** A VSIX is a zip: it starts with a local file header. */
function isZip(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(4);
    readSync(fd, head, 0, 4, 0);
    return head.equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
  } finally {
    closeSync(fd);
  }
}
