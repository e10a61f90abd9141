// dist/cli.cjs: starts the CLI bundle (dist/cli-main.cjs) from the V8 code cache the build made
// next to it (cli-main.cjs.cache). Node 20 has no compile cache for modules, and compiling the
// bundle is a large part of a short command's start. A cache V8 rejects (another Node, other
// flags) or a missing one only means the bundle is compiled as usual.
import { readFileSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { trace } from './trace';

trace('node started');

const file = join(__dirname, 'cli-main.cjs');
const cacheFile = `${file}.cache`;
let cachedData: Buffer | undefined;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  cachedData = undefined;
}
// Node's own CommonJS wrapper, so the bundle sees what a required module sees.
const source = `(function (exports, require, module, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`;
const script = new Script(source, { filename: file, cachedData });
trace(`bundle compiled (code cache ${!cachedData ? 'missing' : script.cachedDataRejected ? 'rejected' : 'used'})`);
const mod = new Module(file, module);
mod.filename = file;
if (process.env.DSTACK_BUILD_CODE_CACHE) {
  // scripts/build.mjs runs one command with this set; the cache then holds what it compiled.
  process.once('exit', () => writeFileSync(cacheFile, script.createCachedData()));
}
(script.runInThisContext() as (...args: unknown[]) => void)(mod.exports, createRequire(file), mod, file, __dirname);
