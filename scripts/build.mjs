// Bundles the CLI and the daemon into dist/ with esbuild. Their npm dependencies stay external
// (resolved from node_modules at run time: native addons, and lazy loading keeps CLI start-up fast),
// but for the few small ones the CLI always loads.
// The agent is bundled whole (it must run on hosts with no node_modules): see build-agent.mjs.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  logLevel: 'warning',
  define: { 'process.env.DSTACK_BUILD_VERSION': JSON.stringify(version) },
};

await Promise.all([
  // The CLI: dist/cli.cjs (start.ts) runs dist/cli-main.cjs from a V8 code cache made below.
  build({
    ...common,
    entryPoints: [join(root, 'packages/cli/src/main.ts')],
    outfile: join(root, 'dist/cli-main.cjs'),
    // Workspace packages are ours: bundle them. From npm, the small pure-JS packages every command
    // loads are bundled too (one file to read, covered by the code cache); the rest stay external
    // and load only in the commands that use them. The CLI speaks gRPC over node:http2 itself:
    // grpc-js (the generated client's import) becomes a stub.
    plugins: [bundleWorkspace(), stubGrpcJs(), externalExcept(['commander', '@bufbuild/protobuf'])],
  }),
  build({ ...common, sourcemap: false, entryPoints: [join(root, 'packages/cli/src/start.ts')], outfile: join(root, 'dist/cli.cjs') }),
  build({
    ...common,
    entryPoints: [join(root, 'packages/daemon/src/main.ts')],
    outfile: join(root, 'dist/daemon.cjs'),
    packages: 'external',
    plugins: [bundleWorkspace()],
  }),
]);

// The code cache holds what one command compiled: `--help` runs what every command runs (the
// commands' registration). A cache made by another Node is rejected by V8 and costs nothing.
const cacheFile = join(root, 'dist/cli-main.cjs.cache');
rmSync(cacheFile, { force: true });
const warm = spawnSync(process.execPath, [join(root, 'dist/cli.cjs'), '--help'], {
  env: { ...process.env, DSTACK_BUILD_CODE_CACHE: '1' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
if (warm.status !== 0 || !existsSync(cacheFile))
  throw new Error(`making the CLI's code cache failed (dist/cli.cjs --help exited ${warm.status})`);

/** npm packages stay external, except those named. */
function externalExcept(bundled) {
  const isBundled = (path) => bundled.some((name) => path === name || path.startsWith(`${name}/`));
  return {
    name: 'external-except',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => (isBundled(args.path) ? undefined : { path: args.path, external: true }));
    },
  };
}

function stubGrpcJs() {
  return {
    name: 'stub-grpc-js',
    setup(b) {
      b.onResolve({ filter: /^@grpc\/grpc-js$/ }, () => ({ path: join(root, 'packages/cli/src/daemon/grpc-js-stub.ts') }));
    },
  };
}

function bundleWorkspace() {
  return {
    name: 'bundle-workspace',
    setup(b) {
      b.onResolve({ filter: /^@dstack\// }, async (args) => {
        const [, pkg, ...rest] = args.path.split('/');
        const sub = rest.length ? rest.join('/') : 'index';
        return { path: join(root, 'packages', pkg, 'src', `${sub}.ts`) };
      });
    },
  };
}
