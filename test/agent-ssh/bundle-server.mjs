// Bundles serve-entry.ts as the agent build bundles the agent: one CommonJS file, native addons
// (ssh2's sshcrypto.node, node-pty) left out. Plain JS so bench/ssh.bench.mjs can use it too.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

export async function bundleServer(outfile) {
  await build({
    entryPoints: [fileURLToPath(new URL('./serve-entry.ts', import.meta.url))],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'error',
    external: ['*.node', 'node-pty', 'cpu-features'],
  });
}
