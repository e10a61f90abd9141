import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileHostKeyStore, keyTypeOf, knownHostName, type HostKey } from './known-hosts';

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

describe('FileHostKeyStore', () => {
  it('records a new host in a private directory, then matches it', async () => {
    const s = store();
    const key = ed25519();
    expect(await s.verify('10.0.0.2', 22, key)).toEqual({ status: 'recorded' });
    expect(await s.verify('10.0.0.3', 2222, key)).toEqual({ status: 'recorded' });
    expect(readFileSync(s.file, 'utf8')).toBe(
      `10.0.0.2 ssh-ed25519 ${key.data.toString('base64')}\n[10.0.0.3]:2222 ssh-ed25519 ${key.data.toString('base64')}\n`,
    );
    expect(statSync(join(s.file, '..')).mode & 0o777).toBe(0o700);
    expect(await s.verify('10.0.0.2', 22, key)).toEqual({ status: 'match' });
    expect(await s.knownTypes('10.0.0.2', 22)).toEqual(['ssh-ed25519']);
    expect(await s.knownTypes('10.0.0.2', 2222)).toEqual([]);
  });

  it('reports a changed key with the file and line, and records nothing', async () => {
    const s = store();
    await s.verify('a.example', 22, ed25519());
    await s.verify('b.example', 22, ed25519());
    const before = readFileSync(s.file, 'utf8');
    expect(await s.verify('b.example', 22, ed25519())).toEqual({ status: 'changed', knownType: 'ssh-ed25519', file: s.file, line: 2 });
    // A host known only by another key type counts as changed too: we ask for the known type first.
    const rsaLike: HostKey = { type: 'ssh-rsa', data: Buffer.concat([sshString(Buffer.from('ssh-rsa')), sshString(randomBytes(64))]) };
    expect(await s.verify('a.example', 22, rsaLike)).toMatchObject({ status: 'changed', line: 1 });
    expect(readFileSync(s.file, 'utf8')).toBe(before);
  });

  it("reads OpenSSH's forms: comments, markers, host lists, wildcards, negation, hashed names", async () => {
    const s = store();
    const [k1, k2, k3, k4] = [ed25519(), ed25519(), ed25519(), ed25519()];
    const salt = randomBytes(20);
    const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('[hashed.example]:2200').digest('base64')}`;
    const b64 = (k: HostKey) => k.data.toString('base64');
    await s.verify('seed', 22, k1); // creates the directory
    writeFileSync(
      s.file,
      [
        '# a comment',
        `@cert-authority *.example ssh-ed25519 ${b64(k4)}`,
        `alias.example,10.1.1.1 ssh-ed25519 ${b64(k1)}`,
        `*.lab,!bad.lab ssh-ed25519 ${b64(k2)}`,
        `${hashed} ssh-ed25519 ${b64(k3)}`,
      ].join('\n'), // no trailing newline: appends must still start on a line of their own
    );
    expect(await s.verify('10.1.1.1', 22, k1)).toEqual({ status: 'match' });
    expect(await s.verify('gpu.lab', 22, k2)).toEqual({ status: 'match' });
    expect(await s.verify('hashed.example', 2200, k3)).toEqual({ status: 'match' });
    expect(await s.verify('hashed.example', 2200, k1)).toMatchObject({ status: 'changed', line: 5 });
    expect(await s.verify('bad.lab', 22, k4)).toEqual({ status: 'recorded' });
    expect(readFileSync(s.file, 'utf8').split('\n').slice(-2)).toEqual([`bad.lab ssh-ed25519 ${b64(k4)}`, '']);
  });

  it('records each host once when many connect at once', async () => {
    const s = store();
    const keys = Array.from({ length: 8 }, () => ed25519());
    const verdicts = await Promise.all([
      ...keys.map((k, i) => s.verify(`10.0.0.${i}`, 22, k)),
      ...keys.map((k, i) => new FileHostKeyStore(s.file).verify(`10.0.0.${i}`, 22, k)),
    ]);
    expect(verdicts.filter((v) => v.status === 'recorded')).toHaveLength(8);
    expect(verdicts.filter((v) => v.status === 'match')).toHaveLength(8);
    expect(readFileSync(s.file, 'utf8').trim().split('\n')).toHaveLength(8);
  });
});
