import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import {
  describeKey,
  FileHostKeyStore,
  fingerprint,
  hopTrust,
  hostKeyFrom,
  hostKeyText,
  keyTypeOf,
  knownHostName,
  type HostKey,
} from './known-hosts';

function sshString(b: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

/** A fresh ed25519 public key as an SSH wire blob, the way a server sends it. */
function ed25519(): HostKey {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return { type: 'ssh-ed25519', data: Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(raw)]) };
}

const dirs: string[] = [];
function store(): FileHostKeyStore {
  const dir = mkdtempSync(join(tmpdir(), 'dstack-kh-'));
  dirs.push(dir);
  return new FileHostKeyStore(join(dir, 'ssh', 'fleet_known_hosts'));
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('known_hosts names and key blobs', () => {
  it('names hosts as OpenSSH does', () => {
    expect(knownHostName('Gpu-1.Example.com', 22)).toBe('gpu-1.example.com');
    expect(knownHostName('10.0.0.2', 2222)).toBe('[10.0.0.2]:2222');
  });

  it('reads the key type from the blob and refuses a malformed one', () => {
    expect(keyTypeOf(ed25519().data)).toBe('ssh-ed25519');
    expect(() => keyTypeOf(Buffer.from([0, 0, 0, 200, 1]))).toThrow('malformed');
  });
});

describe('fingerprints', () => {
  it("are OpenSSH's: SHA256 of the blob, base64 without padding, with the key type", () => {
    const dir = mkdtempSync(join(tmpdir(), 'dstack-fp-'));
    dirs.push(dir);
    for (const type of ['ed25519', 'ecdsa', 'rsa']) {
      const file = join(dir, type);
      execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', file]);
      const key = hostKeyFrom(readFileSync(`${file}.pub`, 'utf8'));
      // ssh-keygen -l: "256 SHA256:... comment (ED25519)"
      const [, , fp, , kind] = /^(\d+) (\S+) (.*) \((\w+)\)$/.exec(
        execFileSync('ssh-keygen', ['-l', '-f', `${file}.pub`], { encoding: 'utf8' }).trim(),
      )!;
      expect(fingerprint(key)).toBe(fp);
      expect(describeKey(key)).toBe(`${kind} key ${fp}`);
      expect(hostKeyText(key)).toBe(readFileSync(`${file}.pub`, 'utf8').split(' ').slice(0, 2).join(' '));
    }
  });
});

describe('FileHostKeyStore', () => {
  const b64 = (k: HostKey) => k.data.toString('base64');

  it('trusts nothing on first contact: an unknown key is refused and nothing is written', async () => {
    const s = store();
    const key = ed25519();
    expect(await s.verify('10.0.0.2', 22, key)).toEqual({ status: 'unknown' });
    expect(await s.knownTypes('10.0.0.2', 22)).toEqual([]);
    expect(existsSync(s.file)).toBe(false);
    // Accepted for another host, or another key accepted for this one: still unknown.
    expect(
      await s.verify('10.0.0.2', 22, key, hopTrust('10.0.0.3', 22, null, [{ hostname: '10.0.0.2', port: 2222, key: hostKeyText(key) }])),
    ).toEqual({ status: 'unknown' });
    expect(await s.verify('10.0.0.2', 22, key, { accepted: [ed25519()] })).toEqual({ status: 'unknown' });
    expect(existsSync(s.file)).toBe(false);
  });

  it('records a key the user accepted, in a private directory, then matches it without being told again', async () => {
    const s = store();
    const key = ed25519();
    const accepted = [
      { hostname: '10.0.0.2', port: 22, key: hostKeyText(key) },
      { hostname: '10.0.0.3', port: 2222, key: hostKeyText(key) },
    ];
    expect(await s.knownTypes('10.0.0.2', 22, hopTrust('10.0.0.2', 22, null, accepted))).toEqual(['ssh-ed25519']);
    expect(await s.verify('10.0.0.2', 22, key, hopTrust('10.0.0.2', 22, null, accepted))).toEqual({ status: 'recorded' });
    expect(await s.verify('10.0.0.3', 2222, key, hopTrust('10.0.0.3', 2222, null, accepted))).toEqual({ status: 'recorded' });
    expect(readFileSync(s.file, 'utf8')).toBe(`10.0.0.2 ssh-ed25519 ${b64(key)}\n[10.0.0.3]:2222 ssh-ed25519 ${b64(key)}\n`);
    expect(statSync(join(s.file, '..')).mode & 0o777).toBe(0o700);
    expect(await s.verify('10.0.0.2', 22, key)).toEqual({ status: 'match' });
    expect(await s.knownTypes('10.0.0.2', 22)).toEqual(['ssh-ed25519']);
    expect(await s.knownTypes('10.0.0.2', 2222)).toEqual([]);
  });

  it('checks a pinned key only: another key is a mismatch, even one a known_hosts file has', async () => {
    const s = store();
    const [pinned, other] = [ed25519(), ed25519()];
    mkdirSync(join(s.file, '..'), { recursive: true });
    writeFileSync(s.file, `h ssh-ed25519 ${b64(other)}\n`);
    const trust = hopTrust('h', 22, hostKeyText(pinned));
    expect(await s.knownTypes('h', 22, trust)).toEqual(['ssh-ed25519']);
    expect(await s.verify('h', 22, pinned, trust)).toEqual({ status: 'match' });
    expect(await s.verify('h', 22, other, trust)).toEqual({ status: 'pin-mismatch', pinned });
    expect(readFileSync(s.file, 'utf8')).toBe(`h ssh-ed25519 ${b64(other)}\n`);
  });

  it("counts the user's own known_hosts (read only): its key is known, another key there is a changed host", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dstack-kh-user-'));
    dirs.push(dir);
    const userFile = join(dir, 'known_hosts');
    const [k1, k2] = [ed25519(), ed25519()];
    writeFileSync(userFile, `# mine\n[gpu.example]:2222 ssh-ed25519 ${b64(k1)}\n`);
    const s = new FileHostKeyStore(join(dir, 'ours', 'fleet_known_hosts'), { readOnly: () => [userFile, join(dir, 'missing')] });
    expect(await s.knownTypes('gpu.example', 2222)).toEqual(['ssh-ed25519']);
    expect(await s.verify('gpu.example', 2222, k1)).toEqual({ status: 'match' });
    expect(await s.verify('gpu.example', 2222, k2, { accepted: [k2] })).toEqual({ status: 'changed', known: k1, file: userFile, line: 2 });
    expect(readFileSync(userFile, 'utf8')).toBe(`# mine\n[gpu.example]:2222 ssh-ed25519 ${b64(k1)}\n`);
    expect(existsSync(s.file)).toBe(false);
  });

  it('reports a changed key with the file, line and the known key, and records nothing', async () => {
    const s = store();
    const [a, b] = [ed25519(), ed25519()];
    const accept = (k: HostKey) => ({ accepted: [k] });
    await s.verify('a.example', 22, a, accept(a));
    await s.verify('b.example', 22, b, accept(b));
    const before = readFileSync(s.file, 'utf8');
    const imposter = ed25519();
    expect(await s.verify('b.example', 22, imposter, accept(imposter))).toEqual({ status: 'changed', known: b, file: s.file, line: 2 });
    // A host known only by another key type counts as changed too: we ask for the known type first.
    const rsaLike: HostKey = { type: 'ssh-rsa', data: Buffer.concat([sshString(Buffer.from('ssh-rsa')), sshString(randomBytes(64))]) };
    expect(await s.verify('a.example', 22, rsaLike)).toMatchObject({ status: 'changed', line: 1 });
    expect(readFileSync(s.file, 'utf8')).toBe(before);
  });

  it("reads OpenSSH's forms: comments, markers, host lists, wildcards, negation, hashed names, @revoked", async () => {
    const s = store();
    const [k1, k2, k3, k4, k5] = [ed25519(), ed25519(), ed25519(), ed25519(), ed25519()];
    const salt = randomBytes(20);
    const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('[hashed.example]:2200').digest('base64')}`;
    mkdirSync(join(s.file, '..'), { recursive: true });
    writeFileSync(
      s.file,
      [
        '# a comment',
        `@cert-authority *.example ssh-ed25519 ${b64(k4)}`,
        `alias.example,10.1.1.1 ssh-ed25519 ${b64(k1)}`,
        `*.lab,!bad.lab ssh-ed25519 ${b64(k2)}`,
        `${hashed} ssh-ed25519 ${b64(k3)}`,
        `@revoked * ssh-ed25519 ${b64(k5)}`,
      ].join('\n'), // no trailing newline: appends must still start on a line of their own
    );
    expect(await s.verify('10.1.1.1', 22, k1)).toEqual({ status: 'match' });
    expect(await s.verify('gpu.lab', 22, k2)).toEqual({ status: 'match' });
    expect(await s.verify('hashed.example', 2200, k3)).toEqual({ status: 'match' });
    expect(await s.verify('hashed.example', 2200, k1)).toMatchObject({ status: 'changed', line: 5 });
    expect(await s.verify('new.example', 22, k5, { accepted: [k5] })).toEqual({ status: 'revoked', file: s.file, line: 6 });
    expect(await s.verify('bad.lab', 22, k4)).toEqual({ status: 'unknown' });
    expect(await s.verify('bad.lab', 22, k4, { accepted: [k4] })).toEqual({ status: 'recorded' });
    expect(readFileSync(s.file, 'utf8').split('\n').slice(-2)).toEqual([`bad.lab ssh-ed25519 ${b64(k4)}`, '']);
  });

  it('records each accepted host once when many connect at once', async () => {
    const s = store();
    const keys = Array.from({ length: 8 }, () => ed25519());
    const verdicts = await Promise.all([
      ...keys.map((k, i) => s.verify(`10.0.0.${i}`, 22, k, { accepted: [k] })),
      ...keys.map((k, i) => new FileHostKeyStore(s.file).verify(`10.0.0.${i}`, 22, k, { accepted: [k] })),
    ]);
    expect(verdicts.filter((v) => v.status === 'recorded')).toHaveLength(8);
    expect(verdicts.filter((v) => v.status === 'match')).toHaveLength(8);
    expect(readFileSync(s.file, 'utf8').trim().split('\n')).toHaveLength(8);
  });
});
