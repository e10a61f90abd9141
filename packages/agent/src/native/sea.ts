// What the running executable is: a single-executable application (the built agent) or plain Node
// running the sources (tests, development). Assets (pty.node) exist only in the former.
import * as sea from 'node:sea';

export function isSea(): boolean {
  try {
    return sea.isSea();
  } catch {
    return false;
  }
}

/** A copy of an asset's bytes, or undefined when this executable carries none by that name. */
export function seaAsset(name: string): Buffer | undefined {
  if (!isSea()) return undefined;
  try {
    return Buffer.from(sea.getAsset(name));
  } catch {
    return undefined;
  }
}
