// The agent as a systemd service on a fleet host (where systemd runs and we are root or have
// passwordless sudo): it survives the SSH connection and reboots, and systemd restarts it if it
// crashes. Elsewhere the daemon starts it detached (agent/deploy.ts) and says so.
import { shellWord, systemdEnvFile, systemdExecLine, systemdValue } from '@dstack/core/quoting';
import type { AgentPlacement } from '../backend';
import type { HostConnection } from '../host-connection';

export const UNIT_NAME = 'dstack-agent.service';
export const UNIT_PATH = `/etc/systemd/system/${UNIT_NAME}`;

export interface UnitOptions {
  /** The SSH user: the agent runs as this user, so its socket is reachable over that user's SSH. */
  user: string;
}

/** The agent's environment (the fleet's `env`), mode 0600 beside it: values may be secrets, the unit is world-readable. */
export function envFilePath(p: AgentPlacement): string {
  return `${p.dataDir}/agent.env`;
}

export function systemdUnit(p: AgentPlacement, opts: UnitOptions): string {
  const exec = systemdExecLine([p.binPath, 'serve', '--data-dir', p.dataDir, '--socket', p.socketPath, '--log-file', p.logFile]);
  const env = Object.keys(p.env ?? {}).length ? [`EnvironmentFile=${systemdValue('EnvironmentFile', envFilePath(p))}`] : [];
  return [
    '# Installed by dstack (fleet host agent); `dstack fleet delete` removes it.',
    '[Unit]',
    'Description=dstack agent',
    'Wants=network-online.target',
    'After=network-online.target docker.service',
    '',
    '[Service]',
    'Type=simple',
    `User=${systemdValue('User', opts.user)}`,
    ...env,
    `ExecStart=${exec}`,
    // Jobs run on the host are the agent's children: they outlive a restart of the agent.
    'KillMode=process',
    // A Shutdown rpc (fleet delete) exits 0 and stays down; a crash is restarted.
    'Restart=on-failure',
    'RestartSec=2',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** `sudo -n ` unless we are root. */
function sudoPrefix(root: boolean): string {
  return root ? '' : 'sudo -n ';
}

async function must(conn: HostConnection, command: string, what: string, input?: string): Promise<string> {
  const res = await conn.exec(command, { input, timeoutMs: 60_000 });
  if (res.code !== 0)
    throw new Error(`${conn.description}: ${what} failed (exit ${res.code}): ${(res.stderr || res.stdout).trim().slice(-300)}`);
  return res.stdout;
}

/** Writes the unit, enables it and (re)starts it; returns the agent's pid (0 when systemd has none yet). */
export async function startUnit(conn: HostConnection, p: AgentPlacement, opts: UnitOptions & { root: boolean }): Promise<number> {
  const sudo = sudoPrefix(opts.root);
  if (Object.keys(p.env ?? {}).length) {
    const file = shellWord(envFilePath(p));
    await must(
      conn,
      `mkdir -p ${shellWord(p.dataDir)} && umask 077 && cat > ${file} && chmod 600 ${file}`,
      `writing ${envFilePath(p)}`,
      systemdEnvFile(p.env!),
    );
  }
  await must(conn, `${sudo}tee ${UNIT_PATH} >/dev/null`, `writing ${UNIT_PATH}`, systemdUnit(p, opts));
  await must(
    conn,
    `rm -f ${shellWord(p.socketPath)} && ${sudo}systemctl daemon-reload && ${sudo}systemctl enable ${UNIT_NAME} >/dev/null 2>&1 && ${sudo}systemctl restart ${UNIT_NAME}`,
    `starting ${UNIT_NAME}`,
  );
  return unitPid(conn);
}

/** The unit's main pid; 0 when it is not running. */
export async function unitPid(conn: HostConnection): Promise<number> {
  const res = await conn.exec(`systemctl show -p MainPID --value ${UNIT_NAME} 2>/dev/null`);
  const pid = Number(res.stdout.trim());
  return Number.isInteger(pid) ? pid : 0;
}

/** Stops and removes the unit (a no-op where it was never installed). */
export async function removeUnit(conn: HostConnection, root: boolean): Promise<void> {
  const sudo = sudoPrefix(root);
  await must(
    conn,
    `if [ -f ${UNIT_PATH} ]; then ${sudo}systemctl disable --now ${UNIT_NAME} >/dev/null 2>&1; ${sudo}rm -f ${UNIT_PATH} && ${sudo}systemctl daemon-reload; fi`,
    `removing ${UNIT_NAME}`,
  );
}
