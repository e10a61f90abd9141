// Host keys of fleet hosts and jump hosts through `dstack apply -f fleet.yml`, with real sshds: first
// contact asks as OpenSSH asks (the fingerprint is ssh-keygen's own), `n` changes nothing, a jump host
// is asked about before the host behind it; without a terminal and without -y it is exit 2 naming host
// and fingerprint; -y accepts and says which; `host_key:` pins a key (a mismatch names both
// fingerprints); the user's ~/.ssh/known_hosts counts, and another key there is a changed host; a key
// that changed later is refused, never asked about.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dstack, runName, type Sandbox } from '../cli/helpers';
import { Terminal } from '../cli/pty';
import type { TestHost, TestHostNetwork } from '../harness/ssh-hosts';
import { mustRun, waitFor } from '../harness/util';
import { createTestHosts, fleetSandbox, fleetYaml, listFleets } from './helpers';

describe('fleet host keys', () => {
  let net: TestHostNetwork;
  const sandboxes: Sandbox[] = [];
  const terms: Terminal[] = [];

  beforeAll(async () => {
    net = await createTestHosts([
      { name: 'h1' },
      { name: 'j1' },
      { name: 'h3', via: 'j1' },
      { name: 'h2' },
      { name: 'h4' },
      { name: 'h5' },
    ]);
  });

  afterAll(async () => {
    for (const t of terms) t.kill();
    for (const sb of sandboxes) await sb.cleanup();
    await net?.destroy();
  });

  const newSandbox = (prefix: string) => {
    const sb = fleetSandbox(prefix);
    sandboxes.push(sb);
    return sb;
  };
  const label = (h: TestHost) => `root@${h.address}:22`;
  const pub = (h: TestHost) =>
    readFileSync(join(net.dir, h.name, 'host_key.pub'), 'utf8')
      .split(' ')
      .slice(0, 2)
      .join(' ');
  /** "ED25519 key fingerprint is SHA256:...", from ssh-keygen itself. */
  const fingerprintLine = async (h: TestHost) => {
    const out = (await mustRun('ssh-keygen', ['-l', '-f', join(net.dir, h.name, 'host_key.pub')])).stdout.trim();
    const [, fp, kind] = /^\d+ (SHA256:\S+) .* \((\w+)\)$/.exec(out)!;
    return `${kind} key fingerprint is ${fp}`;
  };
  const knownHosts = (sb: Sandbox) => join(sb.dstackHome, 'ssh', 'fleet_known_hosts');
  const writeFleet = (sb: Sandbox, name: string, hosts: TestHost[], transform = (y: string) => y) => {
    const file = join(sb.dir, `${name}.dstack.yml`);
    writeFileSync(file, transform(fleetYaml(net, name, hosts)));
    return file;
  };

  it('asks on first contact with the fingerprint, the jump host first; `n` changes nothing; `y` deploys and records the keys', async () => {
    const [h1, j1, h3] = ['h1', 'j1', 'h3'].map((n) => net.host(n));
    const sb = newSandbox('keys-ask');
    const name = runName('asked');
    writeFleet(sb, name, [h1, h3]);

    const no = new Terminal(sb, ['apply', '-f', `${name}.dstack.yml`]);
    terms.push(no);
    await no.expect(`The authenticity of `);
    await no.expect('Are you sure you want to continue connecting? [y/n]: ');
    no.write('n\r');
    await no.expect(
      /error: the host key of (jump )?host root@\S+ was not accepted \(ED25519 key fingerprint is SHA256:\S+\): nothing was changed/,
    );
    expect((await no.exited).exitCode).toBe(1);
    expect(no.text).not.toContain('Create the fleet');
    expect(await listFleets(sb, true)).toEqual([]);
    expect(existsSync(knownHosts(sb))).toBe(false);

    const yes = new Terminal(sb, ['apply', '-f', `${name}.dstack.yml`]);
    terms.push(yes);
    // Round one: h1 and the jump host j1 (h3 cannot be reached before j1 is trusted); round two: h3.
    for (const [h, role] of [
      [h1, 'host'],
      [j1, 'jump host'],
      [h3, 'host'],
    ] as const) {
      await yes.expect(
        `The authenticity of ${role} '${label(h)}' can't be established.\n${await fingerprintLine(h)}.\nAre you sure you want to continue connecting? [y/n]: `,
      );
      yes.write('y\r');
    }
    const jumpAt = yes.text.indexOf(`jump host '${label(j1)}'`);
    expect(jumpAt).toBeLessThan(yes.text.indexOf(`host '${label(h3)}'`));
    await yes.expect(`Create the fleet ${name}? [y/n]: `);
    yes.write('y\r');
    await yes.expect(new RegExp(`${label(h3).replace(/\./g, '\\.')}  \\d+xCPU.*; agent uploaded`), { timeoutMs: 180_000 });
    expect((await yes.exited).exitCode).toBe(0);
    expect(readFileSync(knownHosts(sb), 'utf8').trim().split('\n').sort()).toEqual(
      [h1, j1, h3].map((h) => `${h.address} ${pub(h)}`).sort(),
    );

    // Known now: applying again (a redeploy) asks nothing.
    const again = await dstack(sb, ['apply', '-f', `${name}.dstack.yml`, '-y', '--force'], { timeoutMs: 300_000 });
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(again.stderr).not.toContain('Accepted');
  });

  it('without a terminal and without -y: exit 2 naming the host and fingerprint; -y accepts and says which; a key that changed later is refused, not asked about', async () => {
    const h2 = net.host('h2');
    const sb = newSandbox('keys-batch');
    const name = runName('batch');
    const file = writeFleet(sb, name, [h2]);
    const refused = await dstack(sb, ['apply', '-f', file]);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toBe(
      `error: the authenticity of host ${label(h2)} (${await fingerprintLine(h2)}) can't be established: run \`dstack apply\` on a terminal to be asked, ` +
        'pass -y to accept, or pin the key with `host_key:` in the fleet file',
    );
    expect(await listFleets(sb, true)).toEqual([]);
    expect(existsSync(knownHosts(sb))).toBe(false);

    const accepted = await dstack(sb, ['apply', '-f', file, '-y'], { timeoutMs: 300_000 });
    expect(accepted.code, accepted.stderr + accepted.stdout).toBe(0);
    expect(accepted.stderr).toContain(`Accepted (-y) the host key of host ${label(h2)}: ${await fingerprintLine(h2)}\n`);
    expect(readFileSync(knownHosts(sb), 'utf8')).toBe(`${h2.address} ${pub(h2)}\n`);

    // The host is reinstalled: a new key. The next apply refuses it, with both fingerprints, even with -y.
    const old = await fingerprintLine(h2);
    const key = join(net.dir, h2.name, 'host_key');
    rmSync(key);
    rmSync(`${key}.pub`);
    await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    process.kill(Number(readFileSync(join(net.dir, h2.name, 'sshd.pid'), 'utf8').trim()), 'SIGHUP');
    await waitFor('sshd of h2 to listen again', async () =>
      (await h2.exec(`bash -c 'exec 3<>/dev/tcp/127.0.0.1/22 && head -c 4 <&3'`)).stdout.startsWith('SSH-'),
    );
    const changed = await dstack(sb, ['apply', '-f', file, '-y', '--force'], { timeoutMs: 300_000 });
    expect(changed.code).toBe(1);
    expect(changed.stderr).not.toContain('Accepted');
    const fresh = (await fingerprintLine(h2)).replace(' fingerprint is', '');
    expect(changed.stdout).toContain(
      `REMOTE HOST IDENTIFICATION HAS CHANGED for host ${label(h2)}: it presents ${fresh}, but ${knownHosts(sb)}:1 has ${old.replace(' fingerprint is', '')} for it`,
    );
    expect(readFileSync(knownHosts(sb), 'utf8')).not.toContain(pub(h2));
  });

  it('host_key pins the key: a wrong pin is refused naming both fingerprints; the right one asks nothing and records nothing', async () => {
    const h4 = net.host('h4');
    const sb = newSandbox('keys-pin');
    const name = runName('pinned');
    const pinned = (key: string) => (y: string) =>
      y.replace(`    - ${h4.address}\n`, `    - hostname: ${h4.address}\n      host_key: ${key}\n`);
    const wrong = writeFleet(sb, name, [h4], pinned(pub(net.host('h5'))));
    const res = await dstack(sb, ['apply', '-f', wrong, '-y'], { timeoutMs: 300_000 });
    expect(res.code).toBe(1);
    const shown = async (h: TestHost) => (await fingerprintLine(h)).replace(' fingerprint is', '');
    expect(res.stdout).toContain(
      `the host key of host ${label(h4)} is not its host_key: the fleet file pins ${await shown(net.host('h5'))}, the host presents ${await shown(h4)}`,
    );
    expect(res.stderr).not.toContain('Accepted');

    const right = writeFleet(sb, name, [h4], pinned(pub(h4)));
    const ok = await dstack(sb, ['apply', '-f', right, '-y'], { timeoutMs: 300_000 });
    expect(ok.code, ok.stderr + ok.stdout).toBe(0);
    expect(ok.stderr).not.toContain('Accepted');
    expect(existsSync(knownHosts(sb)) ? readFileSync(knownHosts(sb), 'utf8') : '').not.toContain(h4.address);

    // A malformed pin is an error where it is written, before anything is done.
    const bad = writeFleet(sb, runName('badpin'), [h4], pinned('ssh-ed25519 AAAA"\\n'));
    const parsed = await dstack(sb, ['apply', '-f', bad, '-y']);
    expect(parsed.code).toBe(1);
    expect(parsed.stderr).toMatch(
      new RegExp(
        `^${bad.replace(/[.\\/]/g, '\\$&')}:8:17: ssh_config\\.hosts\\[0\\]\\.host_key: host key "ssh-ed25519 AAAA\\\\"\\\\\\\\n"`,
        'm',
      ),
    );
  });

  it("counts the user's ~/.ssh/known_hosts: its key asks nothing, another key there is REMOTE HOST IDENTIFICATION HAS CHANGED", async () => {
    const h5 = net.host('h5');
    const sb = newSandbox('keys-user');
    const name = runName('userkh');
    const file = writeFleet(sb, name, [h5]);
    const userFile = join(sb.home, '.ssh', 'known_hosts');
    mkdirSync(join(sb.home, '.ssh'), { recursive: true, mode: 0o700 });
    writeFileSync(userFile, `${h5.address} ${pub(net.host('h4'))}\n`);
    const changed = await dstack(sb, ['apply', '-f', file, '-y'], { timeoutMs: 300_000 });
    expect(changed.code).toBe(1);
    expect(changed.stderr).not.toContain('Accepted');
    expect(changed.stdout).toContain(`REMOTE HOST IDENTIFICATION HAS CHANGED for host ${label(h5)}`);
    expect(changed.stdout).toContain(`but ${userFile}:1 has`);

    writeFileSync(userFile, `# mine\n${h5.address} ${pub(h5)}\n`);
    const known = await dstack(sb, ['apply', '-f', file], { timeoutMs: 300_000, input: '' });
    // No key question (it would be exit 2 without a terminal): only the fleet's own question is left.
    expect(known.code).toBe(2);
    expect(known.stderr).toMatch(/^error: cannot ask "(Create|Update) the fleet /m);
    const ok = await dstack(sb, ['apply', '-f', file, '-y'], { timeoutMs: 300_000 });
    expect(ok.code, ok.stderr + ok.stdout).toBe(0);
    expect(ok.stderr).not.toContain('Accepted');
    expect(readFileSync(userFile, 'utf8')).toBe(`# mine\n${h5.address} ${pub(h5)}\n`);
  });
});
