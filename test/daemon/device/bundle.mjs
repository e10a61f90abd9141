// Prepares the daemon's GPU device check (test/daemon/device/gpu-check.sh) in .cache/device: the CLI
// and the daemon bundled with their npm dependencies (better-sqlite3 and ssh2 beside them), this
// machine's node and the agent, xz-compressed (the device has no Node; what travels is capped at
// 64 MiB). Run after `npm run build`; then run gpu-check.sh on the device with .cache/device carried.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const out = join(root, '.cache/device');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'dist'), { recursive: true });
const workspace = {
  name: 'workspace',
  setup(b) {
    b.onResolve({ filter: /^@dstack\// }, (a) => {
      const [, pkg, ...rest] = a.path.split('/');
      return { path: join(root, 'packages', pkg, 'src', `${rest.length ? rest.join('/') : 'index'}.ts`) };
    });
  },
};
for (const [entry, file] of [
  ['packages/daemon/src/main.ts', 'daemon.cjs'],
  ['packages/cli/src/main.ts', 'cli.cjs'],
]) {
  await build({
    entryPoints: [join(root, entry)],
    outfile: join(out, 'dist', file),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['better-sqlite3', 'node-pty', 'cpu-features', 'ssh2'],
    plugins: [workspace],
    logLevel: 'warning',
    define: { 'process.env.DSTACK_BUILD_VERSION': '"0.1.0"' },
  });
}
// ssh2 (fleet hosts) stays external with its native crypto addon and its pure-JS dependencies.
for (const p of [
  'better-sqlite3/package.json',
  'better-sqlite3/lib',
  'better-sqlite3/build/Release/better_sqlite3.node',
  'bindings',
  'file-uri-to-path',
  'ssh2/package.json',
  'ssh2/lib',
  'asn1',
  'bcrypt-pbkdf',
  'tweetnacl',
  'safer-buffer',
]) {
  cpSync(join(root, 'node_modules', p), join(out, 'nm', p), { recursive: true });
}
const xz = (src, dst) => writeFileSync(dst, execFileSync('xz', ['-T2', '-6', '-c', src], { maxBuffer: 1 << 30 }));
xz(process.execPath, join(out, 'node.xz'));
xz(join(root, 'dist/agent/dstack-agent-linux-x64'), join(out, 'agent.xz'));
cpSync(join(root, 'test/daemon/device/gpu-check.sh'), join(out, 'gpu-check.sh'));
console.log(`ready: ${out}`);
