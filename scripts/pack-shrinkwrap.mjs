// The root package's prepack (postpack removes what it wrote). It refuses a tree that would install
// a broken tool (bundles or agent not built, a bundle loading an npm package that is not among
// package.json's dependencies) or a heavier one (a dependency no bundle loads). Then it writes npm-shrinkwrap.json: the package-lock's entries for the
// runtime dependencies and everything they pull in, so that `npm install -g dstack-*.tgz` installs
// exactly the versions this tree was tested with (and can do it from the npm cache alone).
// package-lock.json itself never goes into a tarball, and it also holds the workspaces and the dev
// tools, which an installed dstack has no use for.
//   node scripts/pack-shrinkwrap.mjs          write it
//   node scripts/pack-shrinkwrap.mjs --remove remove it
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'npm-shrinkwrap.json');

if (process.argv.includes('--remove')) {
  rmSync(out, { force: true });
  process.exit(0);
}

const fail = (message) => {
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
};

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
const entries = lock.packages;

const needed = ['dist/cli.cjs', 'dist/cli-main.cjs', 'dist/daemon.cjs', 'dist/agent/dstack-agent-linux-x64', 'dist/agent/manifest.json'];
const missing = needed.filter((f) => !existsSync(join(root, f)));
if (missing.length) fail(`nothing to pack: ${missing.join(', ')} missing: run \`npm run build\` first`);
// Every bundle in dist/, so that a new one is checked without an edit here.
const bundles = readdirSync(join(root, 'dist'))
  .filter((f) => f.endsWith('.cjs'))
  .map((f) => `dist/${f}`);
const loaded = new Set();
for (const bundle of bundles) {
  for (const [, spec] of readFileSync(join(root, bundle), 'utf8').matchAll(/\brequire\("([^"./][^"]*)"\)/g)) {
    const name = spec
      .split('/')
      .slice(0, spec.startsWith('@') ? 2 : 1)
      .join('/');
    if (spec.startsWith('node:') || builtinModules.includes(name)) continue;
    loaded.add(name);
    if (pkg.dependencies?.[name]) continue;
    fail(`${bundle} loads ${name}, which is not in package.json's dependencies: add it there (the version package-lock.json has)`);
  }
}
// The other way round too: a dependency no bundle loads would only cost every install time.
const unused = Object.keys(pkg.dependencies ?? {}).filter((name) => !loaded.has(name));
if (unused.length)
  fail(`no bundle in dist/ loads ${unused.join(', ')}: remove it from package.json's dependencies (then \`npm install\`), or rebuild`);

/** Node's lookup: `<from>/node_modules/<name>`, then each folder above, up to the top. */
function locate(from, name) {
  for (let dir = from; ; ) {
    const at = `${dir ? `${dir}/` : ''}node_modules/${name}`;
    if (entries[at]) return at;
    if (!dir) return undefined;
    const i = dir.lastIndexOf('/node_modules/');
    dir = i < 0 ? '' : dir.slice(0, i);
  }
}

const kept = {};
const todo = [];
const want = (from, deps, optional) => {
  for (const name of Object.keys(deps ?? {})) {
    const at = locate(from, name);
    if (!at) {
      if (optional) continue;
      fail(`package-lock.json has no entry for ${name} (needed from ${from || 'the root'}): run \`npm install\``);
    }
    if (kept[at]) continue;
    if (entries[at].link) fail(`${name} is a workspace link in package-lock.json: a runtime dependency must come from the registry`);
    kept[at] = entries[at];
    todo.push(at);
  }
};

want('', pkg.dependencies, false);
while (todo.length) {
  const at = todo.pop();
  want(at, entries[at].dependencies, false);
  want(at, entries[at].optionalDependencies, true);
}

for (const [name, version] of Object.entries(pkg.dependencies)) {
  const got = kept[locate('', name)].version;
  if (got !== version) fail(`package.json pins ${name} ${version} but package-lock.json has ${got}: run \`npm install\``);
}

const top = {
  name: pkg.name,
  version: pkg.version,
  license: pkg.license,
  dependencies: pkg.dependencies,
  bin: pkg.bin,
  engines: pkg.engines,
};
const sorted = Object.fromEntries(
  Object.keys(kept)
    .sort()
    .map((k) => [k, kept[k]]),
);
const shrinkwrap = { name: pkg.name, version: pkg.version, lockfileVersion: 3, requires: true, packages: { '': top, ...sorted } };
writeFileSync(out, `${JSON.stringify(shrinkwrap, null, 2)}\n`);
