// The YAML side of configuration parsing: read the text as dstack does (PyYAML, YAML 1.1: `yes`/`no`,
// `on`/`off` are booleans, `3.10` a float) and find where a path points in the file, so that every
// error carries a line and a column.
import { LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node, type Tags } from 'yaml';
import type { Path } from '../resources/errors';

const BOOL_TAG = 'tag:yaml.org,2002:bool';
// PyYAML's booleans: no single-letter y/n (the `yaml` package's YAML 1.1 schema has them).
const PY_TRUE = /^(?:[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/;
const PY_FALSE = /^(?:[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/;

export interface YamlSource {
  doc: Document.Parsed;
  lines: LineCounter;
  /** Syntax errors and warnings-turned-errors (duplicate keys), as offsets into the text. */
  errors: { offset: number; message: string }[];
}

export function loadYaml(text: string): YamlSource {
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    version: '1.1',
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
    customTags: pyyamlBooleans,
  });
  const errors = doc.errors.map((e) => ({ offset: errorOffset(text, e.code, e.message, e.pos[0]), message: firstLine(e.message) }));
  return { doc, lines, errors };
}

function pyyamlBooleans(tags: Tags): Tags {
  return tags.map((tag) => {
    if (typeof tag !== 'object' || tag.tag !== BOOL_TAG || !('test' in tag) || !tag.test) return tag;
    const truthy = tag.test.test('true');
    return { ...tag, test: truthy ? PY_TRUE : PY_FALSE };
  });
}

/**
 * yaml reports an unclosed quote where the text ends; the quote that opened it is where to look (the
 * last quote of that kind before the end, since none closes it).
 */
function errorOffset(text: string, code: string, message: string, offset: number): number {
  if (code !== 'MISSING_CHAR' || !message.includes('quote')) return offset;
  const quote = message.includes('"quote') ? '"' : "'";
  const open = text.lastIndexOf(quote, offset - 1);
  return open === -1 ? offset : open;
}

function firstLine(message: string): string {
  const line = message.split('\n')[0].trim();
  return line.endsWith('.') || line.endsWith(':') ? line.slice(0, -1) : line;
}

/**
 * The text offset a path points at: the value's node, or its key when `atKey` (unknown keys), or the
 * key of the nearest mapping that exists when the path runs out of the file (a missing key, or a
 * position inside a string such as a GPU spec's token).
 */
export function offsetOf(src: YamlSource, path: Path, atKey = false): number {
  let node: unknown = src.doc.contents;
  let anchor = rangeStart(node) ?? 0;
  for (let i = 0; i < path.length; i++) {
    node = resolve(src, node);
    const seg = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return anchor;
      const keyStart = rangeStart(pair.key);
      if (last && atKey) return keyStart ?? anchor;
      anchor = keyStart ?? anchor;
      // `key:` with nothing after it has no value node worth pointing at: keep the key.
      node = pair.value;
      const valueStart = isScalar(node) && node.value === null ? null : rangeStart(node);
      if (valueStart !== null) anchor = valueStart;
    } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
      node = node.items[seg];
      anchor = rangeStart(node) ?? anchor;
    } else {
      return anchor;
    }
  }
  return anchor;
}

export function linePos(src: YamlSource, offset: number): { line: number; column: number } {
  const { line, col } = src.lines.linePos(offset);
  return { line, column: col };
}

/** The scalar node at a path (for its source text), or null. */
export function scalarAt(src: YamlSource, path: Path): { source?: string; value: unknown } | null {
  let node: unknown = src.doc.contents;
  for (const seg of path) {
    node = resolve(src, node);
    if (isMap(node)) node = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg))?.value;
    else if (isSeq(node) && typeof seg === 'number') node = node.items[seg];
    else return null;
  }
  node = resolve(src, node);
  return isScalar(node) ? (node as { source?: string; value: unknown }) : null;
}

function resolve(src: YamlSource, node: unknown): unknown {
  return isAlias(node) ? node.resolve(src.doc) : node;
}

function rangeStart(node: unknown): number | null {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : null;
}
