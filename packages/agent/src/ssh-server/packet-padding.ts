// ssh2's JavaScript AES-GCM cipher (what the single executable runs: it carries no ssh2 addon)
// fills the few padding bytes of every outgoing packet with a randomFillSync call of its own, which
// costs a bulk transfer about as much as encrypting the packet's 32 KiB. Here the padding is cut
// from a pool of random bytes filled in bulk instead: the same CSPRNG bytes, each used once.
// Reaches into ssh2 1.x internals (the cipher class's allocPacket); an ssh2 whose packets would
// come out laid out differently is left alone.
import { randomFillSync } from 'node:crypto';
import ssh2Crypto from 'ssh2/lib/protocol/crypto.js';

const POOL = Buffer.allocUnsafeSlow(16 * 1024);
let poolUsed = POOL.length;

function fillPadding(packet: Buffer, at: number, n: number): void {
  if (poolUsed + n > POOL.length) {
    randomFillSync(POOL);
    poolUsed = 0;
  }
  POOL.copy(packet, at, poolUsed, poolUsed + n);
  poolUsed += n;
}

interface OutboundCipher {
  allocPacket(payloadLen: number): Buffer;
}

/**
 * ssh2's AES-GCM allocPacket with pooled padding: the length, the padding length, room for the
 * payload, then 4 to 19 random bytes so that all but the length fills whole 16-byte blocks.
 */
function allocPacket(payloadLen: number): Buffer {
  let pktLen = 4 + 1 + payloadLen;
  let padLen = 16 - ((pktLen - 4) & 15);
  if (padLen < 4) padLen += 16;
  pktLen += padLen;
  const packet = Buffer.allocUnsafe(pktLen);
  packet.writeUInt32BE(pktLen - 4, 0);
  packet[4] = padLen;
  fillPadding(packet, 5 + payloadLen, padLen);
  return packet;
}

/** An instance of ssh2's JavaScript AES-GCM cipher (its class is not exported). */
export function javascriptGcmCipher(
  key: Buffer,
  iv: Buffer,
  onWrite: (data: Uint8Array) => void,
): OutboundCipher & { encrypt(packet: Buffer): void } {
  const cipherInfo = ssh2Crypto.CIPHER_INFO['aes128-gcm@openssh.com'];
  if (!cipherInfo) throw new Error('ssh2 has no aes128-gcm@openssh.com');
  return ssh2Crypto.createCipher({
    outbound: { onWrite, cipherInfo, cipherKey: key, cipherIV: iv, seqno: 0, forceNative: true },
  }) as OutboundCipher & { encrypt(packet: Buffer): void };
}

let done = false;

/** Once per process: pooled padding for ssh2's JavaScript AES-GCM cipher. */
export function poolPacketPadding(): void {
  if (done) return;
  done = true;
  const sample = javascriptGcmCipher(Buffer.alloc(16), Buffer.alloc(12), () => {});
  for (let len = 0; len < 64; len++) {
    const theirs = sample.allocPacket(len);
    const ours = allocPacket(len);
    if (theirs.length !== ours.length || !theirs.subarray(0, 5).equals(ours.subarray(0, 5))) return;
  }
  Object.getPrototypeOf(sample).allocPacket = allocPacket;
}
