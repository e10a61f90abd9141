// What the `backends:` entry parsers (clouds, kubernetes, slurm) share to read YAML nodes and say
// where a problem is.
import { homedir } from 'node:os';
import { isMap, isScalar, isSeq, type Node, type YAMLMap } from 'yaml';

export type At = (node: Node | null | undefined) => string;
export type Fail = (message: string) => never;

/** A value as an error message quotes it. */
export function shown(v: unknown): string {
  if (isMap(v)) return 'a mapping';
  if (isSeq(v)) return 'a list';
  return JSON.stringify(isScalar(v) ? v.value : v);
}

/** A mapping's items as [key, key node, value node]. */
export function pairs(map: YAMLMap): [string, Node, Node | null][] {
  return map.items.map((p) => [isScalar(p.key) ? String(p.key.value) : '', p.key as Node, (p.value ?? null) as Node | null]);
}

/** `~/...` as the user means it. */
export function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? `${homedir()}${p.slice(1)}` : p;
}
