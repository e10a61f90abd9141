import { createDecipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { javascriptGcmCipher, poolPacketPadding } from './packet-padding';

/** Sends `payloads` through ssh2's JavaScript AES-GCM cipher; returns the bytes it put on the wire. */
function seal(key: Buffer, iv: Buffer, payloads: Buffer[]): Buffer {
  const wire: Buffer[] = [];
  const cipher = javascriptGcmCipher(key, Buffer.from(iv), (d) => wire.push(Buffer.from(d)));
  for (const p of payloads) {
    const packet = cipher.allocPacket(p.length);
    p.copy(packet, 5);
    cipher.encrypt(packet);
  }
  return Buffer.concat(wire);
}

/** Reads the wire as an aes128-gcm@openssh.com peer does (RFC 5647 with OpenSSH's length as AAD). */
function open(key: Buffer, ivIn: Buffer, wire: Buffer): Array<{ payload: Buffer; padding: Buffer }> {
  const iv = Buffer.from(ivIn);
  const out: Array<{ payload: Buffer; padding: Buffer }> = [];
  for (let p = 0; p < wire.length; ) {
    const len = wire.readUInt32BE(p);
    expect(len % 16).toBe(0);
    const d = createDecipheriv('aes-128-gcm', key, iv);
    d.setAAD(wire.subarray(p, p + 4));
    d.setAuthTag(wire.subarray(p + 4 + len, p + 4 + len + 16));
    const plain = Buffer.concat([d.update(wire.subarray(p + 4, p + 4 + len)), d.final()]);
    const padLen = plain[0];
    expect(padLen).toBeGreaterThanOrEqual(4);
    expect(padLen).toBeLessThan(20);
    out.push({ payload: plain.subarray(1, plain.length - padLen), padding: plain.subarray(plain.length - padLen) });
    iv.writeBigUInt64BE((iv.readBigUInt64BE(4) + 1n) & 0xffffffffffffffffn, 4);
    p += 4 + len + 16;
  }
  return out;
}

describe('pooled packet padding', () => {
  const key = randomBytes(16);
  const iv = randomBytes(12);
  iv.writeBigUInt64BE(0xffffffffffffff00n, 4); // the counter carries across bytes and wraps along the way
  poolPacketPadding();

  it('is what ssh2’s JavaScript AES-GCM cipher now allocates packets with', () => {
    const probe = javascriptGcmCipher(key, Buffer.from(iv), () => {});
    expect(Object.getPrototypeOf(probe).allocPacket.name).toBe('allocPacket');
    expect(Object.getPrototypeOf(probe).allocPacket.toString()).toContain('fillPadding');
  });

  it('gives packets an AES-GCM peer opens, for every padding length and a full data packet', () => {
    const payloads = [...Array.from({ length: 48 }, (_, n) => randomBytes(n)), randomBytes(32768 + 9), randomBytes(300)];
    const opened = open(key, iv, seal(key, iv, payloads));
    expect(opened.map((o) => o.payload.toString('hex'))).toEqual(payloads.map((p) => p.toString('hex')));
  });

  it('pads with fresh random bytes in every packet', () => {
    const same = Array.from({ length: 2000 }, () => Buffer.alloc(10));
    const paddings = open(key, iv, seal(key, iv, same)).map((o) => o.padding.toString('hex'));
    // 2000 packets outlast the pool, so it was refilled along the way.
    expect(new Set(paddings).size).toBe(paddings.length);
  });
});
