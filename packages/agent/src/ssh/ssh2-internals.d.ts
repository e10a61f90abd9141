// ssh2's crypto module says whether its native addon loaded (not part of ssh2's typed API).
declare module 'ssh2/lib/protocol/crypto.js' {
  const crypto: { bindingAvailable: boolean };
  export default crypto;
}
