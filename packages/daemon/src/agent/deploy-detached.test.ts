// The detached start (deploy.ts) on this machine for real, with a stand-in for the agent that records
// the environment it got; the connection records every command line it ran.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ExecOptions, ExecResult } from '@dstack/backends/host-connection';
import { LocalHost } from '@dstack/backends/local/local-host';
import { startDetached } from './deploy';

const dir = mkdtempSync(join(tmpdir(), 'dstack-deploy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

class RecordingHost extends LocalHost {
  readonly commands: string[] = [];
  override exec(command: string, opts?: ExecOptions): Promise<ExecResult> {
    this.commands.push(command);
    return super.exec(command, opts);
  }
}

describe('the detached agent start', () => {
  it('hands the env to the agent through stdin: no command line holds a value, nor does any file', async () => {
    const secret = `fleet-s3cret-${process.pid} with 'quotes', $dollar and\na newline`;
    const dataDir = join(dir, 'agent');
    const binPath = join(dir, 'fake-agent');
    const seen = join(dir, 'seen');
    writeFileSync(binPath, `#!/bin/sh\nprintf '%s' "$FLEET_SECRET" > ${seen}.tmp && mv ${seen}.tmp ${seen}\n`);
    chmodSync(binPath, 0o755);
    const host = new RecordingHost();
    const pid = await startDetached(host, {
      dataDir,
      binPath,
      socketPath: join(dataDir, 'agent.sock'),
      logFile: join(dataDir, 'agent.log'),
      env: { FLEET_SECRET: secret, PLAIN: 'x' },
    });
    expect(pid).toBeGreaterThan(0);
    for (let i = 0; i < 100 && !existsSync(seen); i++) await new Promise((r) => setTimeout(r, 50));
    expect(readFileSync(seen, 'utf8')).toBe(secret);
    expect(host.commands.length).toBeGreaterThan(0);
    for (const c of host.commands) expect(c).not.toContain('fleet-s3cret');
    expect(readFileSync(join(dataDir, 'agent.stdout'), 'utf8')).toBe('');
  });
});
