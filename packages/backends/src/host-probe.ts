// Small questions about a host, asked over any HostConnection (this machine or SSH): what the agent
// deployment and fleet code need to decide what to upload and how to start it.
import { shellWord } from '@dstack/core/quoting';
import type { HostConnection } from './host-connection';

export type Arch = 'x64' | 'arm64';

const ARCHES: Record<string, Arch> = { x86_64: 'x64', amd64: 'x64', aarch64: 'arm64', arm64: 'arm64' };

async function mustExec(conn: HostConnection, what: string, command: string): Promise<string> {
  const res = await conn.exec(command);
  if (res.code !== 0) throw new Error(`${conn.description}: ${what} failed (exit ${res.code}): ${res.stderr.trim() || res.stdout.trim()}`);
  return res.stdout;
}

/** The host's CPU architecture in Node's names; the agent is built for x64 and arm64 only. */
export async function detectArch(conn: HostConnection): Promise<Arch> {
  const machine = (await mustExec(conn, '`uname -m`', 'uname -m')).trim();
  const arch = ARCHES[machine];
  if (!arch) throw new Error(`${conn.description}: unsupported CPU architecture "${machine}" (dstack's agent runs on x86_64 and aarch64)`);
  return arch;
}

/** The sha256 (hex) of a file on the host; '' when there is no such file. */
export async function fileSha256(conn: HostConnection, path: string): Promise<string> {
  const p = shellWord(path);
  // sha256sum (coreutils, busybox), else openssl, else shasum (macOS, some minimal images).
  const command = [
    `[ -f ${p} ] || exit 0`,
    `if command -v sha256sum >/dev/null 2>&1; then sha256sum < ${p}`,
    `elif command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r < ${p}`,
    `elif command -v shasum >/dev/null 2>&1; then shasum -a 256 < ${p}`,
    `else echo 'no sha256sum, openssl or shasum on the host' >&2; exit 127; fi`,
  ].join('\n');
  const out = await mustExec(conn, `sha256 of ${path}`, command);
  if (!out.trim()) return '';
  const hex = /[0-9a-f]{64}/i.exec(out)?.[0];
  if (!hex) throw new Error(`${conn.description}: cannot read the sha256 of ${path} from "${out.trim().slice(0, 100)}"`);
  return hex.toLowerCase();
}

/** Whether systemd runs the host (the check sd_booted(3) makes) and systemctl is there. */
export async function hasSystemd(conn: HostConnection): Promise<boolean> {
  const res = await conn.exec('[ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1');
  return res.code === 0;
}

/** Whether we are root, or sudo works without a password. */
export async function canSudo(conn: HostConnection): Promise<boolean> {
  const res = await conn.exec('[ "$(id -u)" = 0 ] || sudo -n true >/dev/null 2>&1');
  return res.code === 0;
}

/** The login user's home directory on the host. */
export async function homeDir(conn: HostConnection): Promise<string> {
  const home = (await mustExec(conn, 'reading $HOME', 'printf "%s\n" "${HOME:-$(cd ~ && pwd)}"')).trim();
  if (!home.startsWith('/')) throw new Error(`${conn.description}: cannot tell the home directory (got "${home}")`);
  return home;
}
