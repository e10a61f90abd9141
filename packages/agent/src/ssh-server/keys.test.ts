import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import { findKey } from './auth';
import { generateHostKey, parseAuthorizedKeys, publicKeyLine } from './keys';

describe('host keys', () => {
  it('generates ed25519 keys that ssh2 reads back, whatever their bytes', () => {
    for (let i = 0; i < 400; i++) {
      const k = generateHostKey();
      expect(k.publicKey).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}=?$/);
      expect(publicKeyLine(k.privatePem)).toBe(k.publicKey);
    }
  });

  it('signs with the private half so the public half verifies', () => {
    const k = generateHostKey();
    const priv = ssh2.utils.parseKey(k.privatePem) as ssh2.ParsedKey;
    const pub = ssh2.utils.parseKey(k.publicKey) as ssh2.ParsedKey;
    const sig = priv.sign(Buffer.from('data'));
    expect(pub.verify(Buffer.from('data'), sig)).toBe(true);
  });
});

describe('authorized keys', () => {
  const a = generateHostKey().publicKey;
  const b = generateHostKey().publicKey;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaLine = (() => {
    // "ssh-rsa" blob: string type, mpint e, mpint n.
    const jwk = rsa.publicKey.export({ format: 'jwk' });
    const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, 0].map((_, i) => (b.length >>> (24 - 8 * i)) & 255)), b]);
    const mpint = (s: string) => {
      const b = Buffer.from(s, 'base64url');
      return str(b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
    };
    return `ssh-rsa ${Buffer.concat([str(Buffer.from('ssh-rsa')), mpint(jwk.e!), mpint(jwk.n!)]).toString('base64')} bob@desk`;
  })();

  it('reads plain lines, options, comments and several keys per entry, and names bad lines', () => {
    const { keys, errors } = parseAuthorizedKeys([
      `${a} alice@laptop`,
      `# a comment\n\nno-pty,from="10.0.0.1" ${b}\n${rsaLine}`,
      'not a key',
      'ssh-ed25519 AAAAnotbase64ofakey',
    ]);
    expect(keys.map((k) => k.key.type)).toEqual(['ssh-ed25519', 'ssh-ed25519', 'ssh-rsa']);
    expect(keys[0].comment).toBe('alice@laptop');
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^authorized key 3: /);
    expect(errors[1]).toMatch(/^authorized key 4: /);
  });

  it('finds a key by its blob only', () => {
    const { keys } = parseAuthorizedKeys([a, b]);
    const blobB = Buffer.from(b.split(' ')[1], 'base64');
    expect(findKey(keys, blobB)?.key.getPublicSSH().equals(blobB)).toBe(true);
    expect(findKey(keys, Buffer.from(generateHostKey().publicKey.split(' ')[1], 'base64'))).toBeUndefined();
    expect(findKey(keys, Buffer.alloc(0))).toBeUndefined();
  });
});
