// The parts of agent deployment that are shell on the host, run on this machine (LocalHost): how an
// uploaded agent's sha256 is read (the host's tools, else the executable's own report) and the
// rotation of agent.stdout at each start. test/ssh-host/agent-upload.test.ts runs the real upload.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalHost } from '@dstack/backends/local/local-host';
import { agentSha256, rotateCommand } from './deploy';

const dir = mkdtempSync(join(tmpdir(), 'dstack-deploy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A host whose PATH has `sh`, the tools a shell script needs here, and the named extras. */
function hostWith(name: string, tools: string[]): LocalHost {
  const bin = join(dir, `bin-${name}`);
  if (existsSync(bin)) return new LocalHost({ PATH: bin, HOME: dir });
  mkdirSync(bin);
  for (const tool of ['sh', 'cat', ...tools])
    symlinkSync(['/usr/bin', '/bin'].map((d) => join(d, tool)).find((p) => existsSync(p))!, join(bin, tool));
  return new LocalHost({ PATH: bin, HOME: dir });
}

/** An "agent" that answers `--version --json` with `sha256`, as the real one does. */
function fakeAgent(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('agentSha256', () => {
  const reported = 'ab'.repeat(32);
  const agent = fakeAgent('agent', `[ "$*" = "--version --json" ] && echo '{"name":"dstack-agent","sha256":"${reported}"}'`);
  const fileSha = createHash('sha256').update(readFileSync(agent)).digest('hex');

  it("reads it with the host's tools where there are some, without running the file", async () => {
    expect(await agentSha256(hostWith('tools', ['sha256sum']), agent)).toEqual({ sha: fileSha, source: 'host' });
  });

  it('asks the executable itself on a host with none', async () => {
    expect(await agentSha256(hostWith('bare', []), agent)).toEqual({ sha: reported, source: 'self' });
    expect(await agentSha256(hostWith('bare', []), join(dir, 'absent'))).toMatchObject({ sha: '' });
  });

  it('says why when the executable does not run or answers something else', async () => {
    const crashes = fakeAgent('crashes', 'echo "Segmentation fault" >&2; exit 139');
    expect(await agentSha256(hostWith('bare', []), crashes)).toEqual({
      sha: '',
      source: 'self',
      problem: 'it does not run (exit 139): Segmentation fault',
    });
    const plainNode = fakeAgent('plain-node', 'echo v20.19.0');
    expect(await agentSha256(hostWith('bare', []), plainNode)).toEqual({
      sha: '',
      source: 'self',
      problem: 'its --version --json printed "v20.19.0"',
    });
  });
});

describe('rotateCommand (agent.stdout at each start)', () => {
  const host = new LocalHost();
  const rotation = { maxBytes: 100, keep: 3 };
  const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : null);

  it('moves a file over the cap to FILE.1, shifts the older ones, drops the oldest', async () => {
    const file = join(dir, "agent's stdout");
    writeFileSync(file, 'x'.repeat(101));
    writeFileSync(`${file}.1`, 'one');
    writeFileSync(`${file}.3`, 'three');
    expect((await host.exec(rotateCommand(file, rotation))).code).toBe(0);
    expect([read(file), read(`${file}.1`), read(`${file}.2`), read(`${file}.3`), read(`${file}.4`)]).toEqual([
      null,
      'x'.repeat(101),
      'one',
      null,
      null,
    ]);
  });

  it('leaves a file at or under the cap, and a missing one, alone', async () => {
    const file = join(dir, 'small.stdout');
    writeFileSync(file, 'x'.repeat(100));
    expect((await host.exec(rotateCommand(file, rotation))).code).toBe(0);
    expect([read(file), read(`${file}.1`)]).toEqual(['x'.repeat(100), null]);
    expect((await host.exec(rotateCommand(join(dir, 'none.stdout'), rotation))).code).toBe(0);
  });

  it('with keep 0 removes it', async () => {
    const file = join(dir, 'zero.stdout');
    writeFileSync(file, 'x'.repeat(200));
    expect((await host.exec(rotateCommand(file, { maxBytes: 100, keep: 0 }))).code).toBe(0);
    expect([read(file), read(`${file}.1`)]).toEqual([null, null]);
  });
});
