// Output helpers shared by commands: JSON on stdout (the one thing there with --json), human text
// elsewhere.
import type { Writable } from 'node:stream';

export function printJson(value: unknown, out: Writable = process.stdout): void {
  out.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Where human-readable text goes: stderr when stdout carries JSON. */
export function humanOut(json: boolean | undefined): NodeJS.WriteStream {
  return json ? process.stderr : process.stdout;
}
