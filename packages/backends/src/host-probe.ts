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

/** fileSha256's exit code when none of its ways works on the host. */
const NO_SHA256_TOOL = 3;

/** Each reads the file on stdin and prints its sha256 in hex first (some add a file name). */
const SHA256_WAYS = [
  'sha256sum', // coreutils, and busybox's applet where it is linked
  'shasum -a 256', // macOS, perl's
  'openssl dgst -sha256 -r',
  'busybox sha256sum', // minimal images: busybox without the applet's link
  `python3 -c 'import hashlib,sys;h=hashlib.sha256();[h.update(b) for b in iter(lambda:sys.stdin.buffer.read(1<<20),b"")];print(h.hexdigest())'`,
  `perl -MDigest::SHA -e 'binmode STDIN;print Digest::SHA->new(256)->addfile(*STDIN)->hexdigest,"\\n"'`,
];

/**
 * The sha256 (hex) of a file on the host; '' when there is no such file; null when the host has no
 * way to compute one (none of SHA256_WAYS is there, or works): the caller decides what else to trust.
 */
export async function fileSha256(conn: HostConnection, path: string): Promise<string | null> {
  const p = shellWord(path);
  // The first way that is there and succeeds: a tool that exists but fails (a perl without
  // Digest::SHA, a busybox without the applet) is passed over.
  const command = [
    `[ -f ${p} ] || exit 0`,
    `[ -r ${p} ] || { echo 'cannot read it' >&2; exit 1; }`,
    ...SHA256_WAYS.map(
      (way) => `command -v ${way.split(' ')[0]} >/dev/null 2>&1 && out=$(${way} < ${p} 2>/dev/null) && printf '%s\\n' "$out" && exit 0`,
    ),
    `exit ${NO_SHA256_TOOL}`,
  ].join('\n');
  const res = await conn.exec(command, { timeoutMs: 300_000 });
  if (res.code === NO_SHA256_TOOL) return null;
  if (res.code !== 0)
    throw new Error(`${conn.description}: sha256 of ${path} failed (exit ${res.code}): ${res.stderr.trim() || res.stdout.trim()}`);
  const out = res.stdout.trim();
  if (!out) return '';
  const hex = /^[0-9a-f]{64}\b/i.exec(out)?.[0];
  if (!hex) throw new Error(`${conn.description}: cannot read the sha256 of ${path} from "${out.slice(0, 100)}"`);
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
