// node-pty is a native addon. Plain node loads it from node_modules; the single executable carries
// pty.node itself and installs its own loader here (setPtyLoader). Where no addon loads at all
// (the arm64 build), host TTY sessions fall back to util-linux `script` (see host-process.ts).
import { createRequire } from 'node:module';
import type * as NodePty from 'node-pty';

export type PtyModule = Pick<typeof NodePty, 'spawn'>;

function fromNodeModules(): PtyModule {
  // A direct require() in the CommonJS bundle (esbuild bundles node-pty, with the executable's own
  // native loader swapped in); under ESM (tests) a made one.
  if (typeof require === 'function') return require('node-pty') as PtyModule;
  return createRequire(import.meta.url)('node-pty') as PtyModule;
}

let loader: () => PtyModule | undefined = fromNodeModules;
let cached: PtyModule | null | undefined;

/** Replaces how node-pty is found (the single executable's embedded addon); undefined: none. */
export function setPtyLoader(fn: () => PtyModule | undefined): void {
  loader = fn;
  cached = undefined;
}

/** node-pty, or undefined where it cannot load (TTY sessions then use `script`). */
export function loadPty(): PtyModule | undefined {
  if (cached === undefined) {
    try {
      cached = loader() ?? null;
    } catch {
      cached = null;
    }
  }
  return cached ?? undefined;
}
