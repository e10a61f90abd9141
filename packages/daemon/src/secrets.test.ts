import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SecretBox } from './secrets';

const dir = mkdtempSync(join(tmpdir(), 'dstack-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SecretBox', () => {
  it('makes a 0600 key once and reuses it', () => {
    const file = join(dir, 'secret.key');
    const a = SecretBox.open(file);
    const key = readFileSync(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const b = SecretBox.open(file);
    expect(readFileSync(file)).toEqual(key);
    expect(b.decrypt(a.encrypt('hunter2'))).toBe('hunter2');
  });

  it('never stores the plaintext and uses a fresh IV each time', () => {
    const box = SecretBox.open(join(dir, 'k2'));
    const x = box.encrypt('my-registry-password');
    const y = box.encrypt('my-registry-password');
    expect(x.includes(Buffer.from('my-registry-password'))).toBe(false);
    expect(x.equals(y)).toBe(false);
    expect(box.openJson(box.sealJson({ env: { A: 'b' } }))).toEqual({ env: { A: 'b' } });
  });

  it('rejects a tampered ciphertext and a wrong key', () => {
    const box = SecretBox.open(join(dir, 'k3'));
    const blob = box.encrypt('secret');
    blob[blob.length - 1] ^= 1;
    expect(() => box.decrypt(blob)).toThrow();
    const other = SecretBox.open(join(dir, 'k4'));
    expect(() => other.decrypt(box.encrypt('secret'))).toThrow();
  });
});
