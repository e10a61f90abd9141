// Bundles the CLI and the daemon into dist/ with esbuild. Their npm dependencies stay external
// (resolved from node_modules at run time: native addons, and lazy loading keeps CLI start-up fast).
// The agent is bundled whole (it must run on hosts with no node_modules): see build-agent.mjs.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';

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
  build({
    ...common,
    entryPoints: [join(root, 'packages/cli/src/main.ts')],
    outfile: join(root, 'dist/cli.cjs'),
    packages: 'external',
    // Workspace packages are ours: bundle them; everything from npm stays external.
    plugins: [bundleWorkspace()],
  }),
  build({
    ...common,
    entryPoints: [join(root, 'packages/daemon/src/main.ts')],
    outfile: join(root, 'dist/daemon.cjs'),
    packages: 'external',
    plugins: [bundleWorkspace()],
  }),
]);

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
