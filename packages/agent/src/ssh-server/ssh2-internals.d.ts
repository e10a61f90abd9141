// ssh2's crypto module (not part of ssh2's typed API): whether its native addon loaded, and what
// packet-padding.ts needs to reach its JavaScript AES-GCM cipher.
declare module 'ssh2/lib/protocol/crypto.js' {
  const crypto: {
    bindingAvailable: boolean;
    CIPHER_INFO: Record<string, { keyLen: number; ivLen: number } | undefined>;
    createCipher(config: { outbound: Record<string, unknown> }): unknown;
  };
  export default crypto;
}
