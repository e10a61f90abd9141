// Stands in for node-pty's lib/utils.js inside the executable (scripts/build-agent.mjs swaps it in):
// node-pty's own loader require()s pty.node from a computed path, which a single executable cannot
// do. Here pty.node comes from the executable's assets, is written once to the native dir (the
// agent's data dir; a .node file must be on disk to be loaded) and loaded with process.dlopen.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { writeFileAtomic } from '@dstack/core/atomic-write';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seaAsset } from './sea';

let nativeDir = join(tmpdir(), `dstack-agent-native-${process.getuid?.() ?? 0}`);

/** Where native addons are written at first use (the serve command points it into its data dir). */
export function setNativeDir(dir: string): void {
  nativeDir = dir;
}

/** node-pty's utils.js export, which this module replaces in the agent build. @public */
export function assign<T extends object>(target: T, ...sources: object[]): T {
  for (const source of sources) Object.assign(target, source);
  return target;
}

/** node-pty's utils.js export, which this module replaces in the agent build. @public */
export function loadNativeModule(name: string): { dir: string; module: unknown } {
  const data = seaAsset(`${name}.node`);
  if (!data) throw new Error(`this agent executable carries no ${name}.node (built without it for ${process.arch})`);
  const hash = createHash('sha256').update(data).digest('hex').slice(0, 16);
  const path = join(nativeDir, `${name}-${hash}.node`);
  if (!existsSync(path)) {
    mkdirSync(nativeDir, { recursive: true, mode: 0o700 });
    writeFileAtomic(path, data, { mode: 0o755, durable: false });
  }
  const mod = { exports: {} as unknown };
  process.dlopen(mod, path);
  return { dir: nativeDir, module: mod.exports };
}
