import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { HostKeyEntry, ScanHostKeysResponse, UnknownHostKey } from '@dstack/core/gen/daemon';
import { EXIT_FAILURE, EXIT_USAGE, UserError } from '../errors';
import { acceptHostKeys } from './host-keys';

function io(tty: boolean) {
  const input = Object.assign(new PassThrough(), { isTTY: tty });
  const output = new PassThrough();
  let written = '';
  output.on('data', (d: Buffer) => (written += d.toString()));
  return { io: { input, output }, input, output, written: () => written };
}

const unknown = (host: string, jump = false): UnknownHostKey => ({
  key: { hostname: host.split('@')[1].split(':')[0], port: 22, key: `ssh-ed25519 KEY-OF-${host}` },
  host,
  jump,
  fingerprint: `SHA256:fp-${host}`,
  keyType: 'ED25519',
});

/** A daemon that knows `rounds`: what it answers to the n-th scan, and what each scan was sent. */
function daemon(rounds: ScanHostKeysResponse[]) {
  const sent: HostKeyEntry[][] = [];
  const scan = async (accepted: HostKeyEntry[]) => {
    sent.push([...accepted]);
    return rounds[sent.length - 1] ?? { unknown: [], waiting: [] };
  };
  return { scan, sent };
}

describe('acceptHostKeys', () => {
  it('asks nothing and accepts nothing when every key is trusted', async () => {
    const t = io(false);
    const d = daemon([{ unknown: [], waiting: [] }]);
    expect(await acceptHostKeys(d.scan, { io: t.io, stderr: t.output })).toEqual([]);
    expect(d.sent).toEqual([[]]);
    expect(t.written()).toBe('');
  });

  it("asks as OpenSSH asks, with the key's fingerprint, and returns what was accepted", async () => {
    const t = io(true);
    const a = unknown('root@10.0.0.2:22');
    const d = daemon([{ unknown: [a], waiting: [] }]);
    const p = acceptHostKeys(d.scan, { io: t.io, stderr: t.output });
    t.input.write('yes\n');
    expect(await p).toEqual([a.key]);
    expect(t.written()).toBe(
      "The authenticity of host 'root@10.0.0.2:22' can't be established.\nED25519 key fingerprint is SHA256:fp-root@10.0.0.2:22.\n" +
        'Are you sure you want to continue connecting? [y/n]: ',
    );
  });

  it('asks about the jump host first, then scans again for the hosts behind it', async () => {
    const t = io(true);
    const jump = unknown('root@10.0.0.1:22', true);
    const behind = unknown('root@10.1.0.2:22');
    const d = daemon([
      { unknown: [jump], waiting: ['root@10.1.0.2:22'] },
      { unknown: [behind], waiting: [] },
    ]);
    const p = acceptHostKeys(d.scan, { io: t.io, stderr: t.output });
    t.input.write('y\n');
    // Each answer after its question, as on a terminal.
    while (!t.written().includes("host 'root@10.1.0.2:22'")) await new Promise((r) => setTimeout(r, 5));
    t.input.write('y\n');
    expect(await p).toEqual([jump.key, behind.key]);
    expect(d.sent).toEqual([[], [jump.key]]);
    expect(t.written()).toContain("The authenticity of jump host 'root@10.0.0.1:22' can't be established.");
  });

  it('stops at a key turned down: a failure naming the host and fingerprint, nothing more asked', async () => {
    const t = io(true);
    const d = daemon([{ unknown: [unknown('root@10.0.0.2:22'), unknown('root@10.0.0.3:22')], waiting: [] }]);
    const p = acceptHostKeys(d.scan, { io: t.io, stderr: t.output });
    t.input.write('n\n');
    const err = await p.catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.exitCode).toBe(EXIT_FAILURE);
    expect(err.message).toBe(
      'the host key of host root@10.0.0.2:22 was not accepted (ED25519 key fingerprint is SHA256:fp-root@10.0.0.2:22): nothing was changed',
    );
    expect(t.written()).not.toContain('10.0.0.3');
  });

  it('with -y accepts every key and says which', async () => {
    const t = io(false);
    const [j, h] = [unknown('root@10.0.0.1:22', true), unknown('root@10.1.0.2:22')];
    const d = daemon([
      { unknown: [j], waiting: ['root@10.1.0.2:22'] },
      { unknown: [h], waiting: [] },
    ]);
    expect(await acceptHostKeys(d.scan, { yes: true, io: t.io, stderr: t.output })).toEqual([j.key, h.key]);
    expect(t.written()).toBe(
      'Accepted (-y) the host key of jump host root@10.0.0.1:22: ED25519 key fingerprint is SHA256:fp-root@10.0.0.1:22\n' +
        'Accepted (-y) the host key of host root@10.1.0.2:22: ED25519 key fingerprint is SHA256:fp-root@10.1.0.2:22\n',
    );
  });

  it('without a terminal and without -y: a usage error (exit 2) naming each host and fingerprint', async () => {
    const t = io(false);
    const d = daemon([{ unknown: [unknown('root@10.0.0.2:22'), unknown('root@10.0.0.1:22', true)], waiting: [] }]);
    const err = await acceptHostKeys(d.scan, { io: t.io, stderr: t.output }).catch((e) => e);
    expect(err.exitCode).toBe(EXIT_USAGE);
    expect(err.message).toBe(
      'the authenticity of host root@10.0.0.2:22 (ED25519 key fingerprint is SHA256:fp-root@10.0.0.2:22); ' +
        "jump host root@10.0.0.1:22 (ED25519 key fingerprint is SHA256:fp-root@10.0.0.1:22) can't be established: " +
        'run `dstack apply` on a terminal to be asked, pass -y to accept, or pin the key with `host_key:` in the fleet file',
    );
    expect(t.written()).toBe('');
  });
});
