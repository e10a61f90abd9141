// Starting the daemon on login: a systemd user unit on Linux, a launchd agent on macOS. The files
// are made here as text (tested as such); install/uninstall write them and ask the service manager.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { controlCharIn, QuotingError, showValue, systemdEnvironment, systemdExecLine } from '@dstack/core/quoting';
import { UserError } from '../errors';

export const SYSTEMD_UNIT = 'dstack-daemon.service';
export const LAUNCHD_LABEL = 'ai.dstack.daemon';

export interface ServiceSpec {
  node: string;
  script: string;
  home: string;
  log: string;
  /** Extra environment the daemon needs from the installing shell (PATH, DOCKER_HOST). */
  env: Record<string, string>;
}

export function systemdUnitPath(env: NodeJS.ProcessEnv = process.env): string {
  const config = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(config, 'systemd', 'user', SYSTEMD_UNIT);
}

export function launchdPlistPath(): string {
  return join(homedir(), 'Library', 'LaunchAgents', `${LAUNCHD_LABEL}.plist`);
}

export function systemdUnit(spec: ServiceSpec): string {
  const env = { DSTACK_HOME: spec.home, ...spec.env };
  return [
    '[Unit]',
    'Description=dstack daemon: dev environments (dstack-ts)',
    'After=default.target',
    '',
    '[Service]',
    'Type=simple',
    ...Object.entries(env).map(([k, v]) => `Environment=${systemdEnvironment(k, v)}`),
    `ExecStart=${systemdExecLine([spec.node, spec.script])}`,
    // The daemon exits 0 on `dstack daemon stop`: only a crash brings it back.
    'Restart=on-failure',
    'RestartSec=2',
    '',
    '[Install]',
    'WantedBy=default.target',
    '',
  ].join('\n');
}

/** Text of a plist element. XML 1.0 has no way to write most control characters: those are refused. */
function xml(s: string): string {
  const control = controlCharIn(s.replace(/[\t\n\r]/g, ''));
  if (control) throw new QuotingError(`launchd plist: ${showValue(s)} has a control character (${control}), which XML cannot carry`);
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function launchdPlist(spec: ServiceSpec): string {
  const env = { DSTACK_HOME: spec.home, ...spec.env };
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    '<dict>',
    `  <key>Label</key><string>${LAUNCHD_LABEL}</string>`,
    '  <key>ProgramArguments</key>',
    '  <array>',
    `    <string>${xml(spec.node)}</string>`,
    `    <string>${xml(spec.script)}</string>`,
    '  </array>',
    '  <key>EnvironmentVariables</key>',
    '  <dict>',
    ...Object.entries(env).map(([k, v]) => `    <key>${xml(k)}</key><string>${xml(v)}</string>`),
    '  </dict>',
    '  <key>RunAtLoad</key><true/>',
    '  <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>',
    `  <key>StandardOutPath</key><string>${xml(spec.log)}</string>`,
    `  <key>StandardErrorPath</key><string>${xml(spec.log)}</string>`,
    '</dict>',
    '</plist>',
    '',
  ].join('\n');
}

export interface InstallResult {
  file: string;
  /** False when the same file was there already. */
  changed: boolean;
  /** What the service manager said, or how to enable it by hand. */
  lines: string[];
  ok: boolean;
}

function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function runQuiet(cmd: string, args: string[]): { ok: boolean; err: string } {
  const res = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  const err = (res.error?.message ?? res.stderr ?? '').trim().split('\n').pop() ?? '';
  return { ok: res.status === 0, err };
}

/** The service file's text; a value it cannot carry (a line break in DSTACK_HOME, say) is the user's error. */
function serviceText(file: string, make: () => string): string {
  try {
    return make();
  } catch (err) {
    if (err instanceof QuotingError) throw new UserError(`cannot write ${file}: ${err.message}`);
    throw err;
  }
}

function writeIfChanged(file: string, text: string): boolean {
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return false;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text, { mode: 0o644 });
  return true;
}

export function install(spec: ServiceSpec, platform = process.platform): InstallResult {
  if (platform === 'darwin') {
    const file = launchdPlistPath();
    const changed = writeIfChanged(
      file,
      serviceText(file, () => launchdPlist(spec)),
    );
    if (changed) runQuiet('launchctl', ['unload', file]);
    const r = runQuiet('launchctl', ['load', '-w', file]);
    return {
      file,
      changed,
      ok: r.ok,
      lines: r.ok
        ? ['Loaded it with launchctl: the daemon starts on login']
        : [`launchctl load failed (${r.err}): run \`launchctl load -w ${file}\``],
    };
  }
  const file = systemdUnitPath();
  const changed = writeIfChanged(
    file,
    serviceText(file, () => systemdUnit(spec)),
  );
  const how = `systemctl --user daemon-reload && systemctl --user enable --now ${SYSTEMD_UNIT}`;
  if (!hasCommand('systemctl')) {
    return { file, changed, ok: true, lines: [`systemctl is not available here: enable it in a systemd login session with \`${how}\``] };
  }
  const reload = runQuiet('systemctl', ['--user', 'daemon-reload']);
  const enable = reload.ok ? runQuiet('systemctl', ['--user', 'enable', '--now', SYSTEMD_UNIT]) : reload;
  if (!enable.ok) {
    return { file, changed, ok: false, lines: [`systemctl --user failed (${enable.err}): run \`${how}\` in your login session`] };
  }
  return { file, changed, ok: true, lines: [`Enabled ${SYSTEMD_UNIT}: the daemon starts on login`] };
}

export function uninstall(platform = process.platform): { file: string; removed: boolean; lines: string[] } {
  if (platform === 'darwin') {
    const file = launchdPlistPath();
    if (!existsSync(file)) return { file, removed: false, lines: [] };
    runQuiet('launchctl', ['unload', '-w', file]);
    rmSync(file, { force: true });
    return { file, removed: true, lines: [] };
  }
  const file = systemdUnitPath();
  if (!existsSync(file)) return { file, removed: false, lines: [] };
  const lines: string[] = [];
  if (hasCommand('systemctl')) {
    const r = runQuiet('systemctl', ['--user', 'disable', '--now', SYSTEMD_UNIT]);
    if (!r.ok) lines.push(`systemctl --user disable failed (${r.err}); the unit file is removed anyway`);
  }
  rmSync(file, { force: true });
  if (hasCommand('systemctl')) runQuiet('systemctl', ['--user', 'daemon-reload']);
  return { file, removed: true, lines };
}
