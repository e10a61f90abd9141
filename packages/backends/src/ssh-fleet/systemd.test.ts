// The agent's systemd unit. systemd cannot run here (no init, and /etc is this machine's): the unit
// text is checked as text, and the commands go to a HostConnection that records them (a stand-in,
// said here, for a host with systemd).
import type { Duplex, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ExecOptions, ExecResult, HostConnection } from '../host-connection';
import { fleetAgentPlacement } from './placement';
import { removeUnit, startUnit, systemdUnit, UNIT_PATH } from './systemd';

class RecordingHost implements HostConnection {
  readonly description = 'recording host';
  readonly calls: { command: string; input?: string }[] = [];
  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.calls.push({ command, input: opts.input?.toString() });
    return Promise.resolve({ code: 0, stdout: command.includes('MainPID') ? '4242\n' : '', stderr: '' });
  }
  upload(_s: Readable, _p: string): Promise<void> {
    throw new Error('not used');
  }
  openUnixSocket(_p: string): Promise<Duplex> {
    throw new Error('not used');
  }
  async close(): Promise<void> {}
}

describe('the systemd unit of a fleet host agent', () => {
  it('runs the agent as the SSH user, restarts it after a crash only, and keeps jobs across restarts', () => {
    const unit = systemdUnit(fleetAgentPlacement('/home/ubuntu', { HF_HOME: '/data/hf cache', RATE: '50%' }), { user: 'ubuntu' });
    expect(unit).toBe(
      [
        '# Installed by dstack (fleet host agent); `dstack fleet delete` removes it.',
        '[Unit]',
        'Description=dstack agent',
        'Wants=network-online.target',
        'After=network-online.target docker.service',
        '',
        '[Service]',
        'Type=simple',
        'User=ubuntu',
        'EnvironmentFile=/home/ubuntu/.dstack-agent/agent.env',
        'ExecStart=/home/ubuntu/.dstack-agent/bin/dstack-agent serve --data-dir /home/ubuntu/.dstack-agent --socket /home/ubuntu/.dstack-agent/agent.sock --log-file /home/ubuntu/.dstack-agent/agent.log',
        'KillMode=process',
        'Restart=on-failure',
        'RestartSec=2',
        '',
        '[Install]',
        'WantedBy=multi-user.target',
        '',
      ].join('\n'),
    );
  });

  it('keeps the environment in a file of its own (values may be secrets; the unit is world-readable)', () => {
    expect(systemdUnit(fleetAgentPlacement('/root'), { user: 'root' })).not.toContain('Environment');
  });

  it('quotes paths with spaces and escapes specifiers for systemd; refuses a home it cannot write there', () => {
    const unit = systemdUnit(fleetAgentPlacement('/home/a b 100%'), { user: 'a' });
    expect(unit).toContain('ExecStart="/home/a b 100%%/.dstack-agent/bin/dstack-agent" serve --data-dir "/home/a b 100%%/.dstack-agent"');
    // systemd refuses quotes in an executable's path, and a line break would end the setting.
    expect(() => systemdUnit(fleetAgentPlacement('/home/a "b"'), { user: 'a' })).toThrow(/ExecStart/);
    expect(() => systemdUnit(fleetAgentPlacement('/root'), { user: 'a\nExecStartPre=/bin/evil' })).toThrow(
      /User: "a\\nExecStartPre=\/bin\/evil" has a control character/,
    );
  });

  it('is written, enabled and restarted with sudo unless root, and answers the unit main pid', async () => {
    const host = new RecordingHost();
    const p = fleetAgentPlacement('/home/ubuntu');
    expect(await startUnit(host, p, { user: 'ubuntu', root: false })).toBe(4242);
    expect(host.calls[0]).toEqual({ command: `sudo -n tee ${UNIT_PATH} >/dev/null`, input: systemdUnit(p, { user: 'ubuntu' }) });
    expect(host.calls[1].command).toBe(
      'rm -f /home/ubuntu/.dstack-agent/agent.sock && sudo -n systemctl daemon-reload && sudo -n systemctl enable dstack-agent.service >/dev/null 2>&1 && sudo -n systemctl restart dstack-agent.service',
    );
    const root = new RecordingHost();
    await startUnit(root, fleetAgentPlacement('/root', { TOKEN: 's3cret' }), { user: 'root', root: true });
    expect(root.calls.map((c) => c.command).join('\n')).not.toContain('sudo');
    // The env file first, mode 0600, its values on stdin (never on a command line).
    expect(root.calls[0]).toEqual({
      command:
        'mkdir -p /root/.dstack-agent && umask 077 && cat > /root/.dstack-agent/agent.env && chmod 600 /root/.dstack-agent/agent.env',
      input: 'TOKEN="s3cret"\n',
    });
    expect(root.calls.some((c) => c.command.includes('s3cret'))).toBe(false);
    const removing = new RecordingHost();
    await removeUnit(removing, false);
    expect(removing.calls[0].command).toBe(
      `if [ -f ${UNIT_PATH} ]; then sudo -n systemctl disable --now dstack-agent.service >/dev/null 2>&1; sudo -n rm -f ${UNIT_PATH} && sudo -n systemctl daemon-reload; fi`,
    );
  });
});
