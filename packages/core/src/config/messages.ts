// zod's issues turned into one clear sentence each, at a path (see parse.ts for the positions):
// what was expected, what was found, and for an unknown key or a misspelled value what was probably
// meant.
import type { core } from 'zod';
import { didYouMean, show, unknownKeyMessage, type GrammarIssue, type Path } from '../resources/errors';

/** `resources.gpu.count`, `ssh_config.hosts[0].port`, `env[2]`. */
export function pathString(path: Path): string {
  return path.map((seg, i) => (typeof seg === 'number' ? `[${seg}]` : i === 0 ? seg : `.${seg}`)).join('');
}

export function valueAt(raw: unknown, path: Path): unknown {
  let v = raw;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  null: 'nothing',
};

function kindOf(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'nothing (null)';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `a string (${JSON.stringify(v)})`;
  return `${typeof v === 'boolean' ? '' : 'the number '}${String(v)}`;
}

export interface MessageContext {
  raw: unknown;
  /** What the top level is called in messages ("dev-environment", "fleet"). */
  root: string;
  /** Keys dstack has but this project does not support, with their messages. */
  unsupported: Record<string, string>;
  /** The schema the issues came from (to list the keys an object accepts). */
  schema: unknown;
}

export function issuesFromZod(issue: core.$ZodIssue, ctx: MessageContext): GrammarIssue[] {
  const path = issue.path as Path;
  const where = path.length ? pathString(path) : `the ${ctx.root} configuration`;
  const prefix = (msg: string) => (path.length ? `${pathString(path)}: ${msg}` : msg);
  const got = valueAt(ctx.raw, path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const container = valueAt(ctx.raw, path) as Record<string, unknown> | undefined;
      const allowed = keysAt(ctx.schema, path) ?? Object.keys(container ?? {});
      return issue.keys.map((key) => ({
        path: [...path, key],
        message: path.length === 0 && ctx.unsupported[key] ? ctx.unsupported[key] : unknownKeyMessage(key, allowed, where),
        atKey: true,
      }));
    }
    case 'invalid_type': {
      if (got === undefined) {
        const key = path[path.length - 1];
        const parent = path.slice(0, -1);
        return [
          {
            path: parent,
            message: `missing required key \`${String(key)}\`${parent.length ? ` in ${pathString(parent)}` : ''}`,
            atKey: true,
          },
        ];
      }
      return [{ path, message: prefix(`expected ${TYPE_WORDS[issue.expected] ?? issue.expected}, got ${kindOf(got)}`) }];
    }
    case 'invalid_value': {
      const allowed = issue.values.map(String);
      const guess = typeof got === 'string' ? didYouMean(got, allowed) : null;
      const list = allowed.length === 1 ? `\`${allowed[0]}\`` : `one of ${allowed.join(', ')}`;
      return [{ path, message: prefix(`expected ${list}, got ${show(got)}${guess ? ` (did you mean \`${guess}\`?)` : ''}`) }];
    }
    case 'invalid_union': {
      // The branch whose type matched (a mapping given, the mapping branch failed inside): its issues.
      const matched = issue.errors.find((branch) => branch.length > 0 && branch.every((sub) => sub.path.length > 0));
      if (matched) {
        return matched.flatMap((sub) => issuesFromZod({ ...sub, path: [...path, ...sub.path] } as core.$ZodIssue, ctx));
      }
      const expected = new Set<string>();
      for (const branch of issue.errors) {
        for (const sub of branch) {
          if (sub.code === 'invalid_type' && sub.path.length === 0) expected.add(TYPE_WORDS[sub.expected] ?? sub.expected);
          if (sub.code === 'invalid_value' && sub.path.length === 0) for (const v of sub.values) expected.add(`\`${String(v)}\``);
        }
      }
      const list = [...expected];
      const what = list.length > 1 ? `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}` : (list[0] ?? 'something else');
      return [{ path, message: prefix(`expected ${what}, got ${kindOf(got)}`) }];
    }
    case 'too_small': {
      const origin = issue.origin;
      if (origin === 'array' || origin === 'string')
        return [{ path, message: prefix(`must not be empty, got ${origin === 'string' ? '""' : 'an empty list'}`) }];
      return [
        { path, message: prefix(`must be ${issue.inclusive ? 'at least' : 'greater than'} ${String(issue.minimum)}, got ${kindOf(got)}`) },
      ];
    }
    case 'too_big':
      return [{ path, message: prefix(`must be at most ${String(issue.maximum)}, got ${kindOf(got)}`) }];
    case 'custom': {
      const atKey = (issue.params as { atKey?: boolean } | undefined)?.atKey ?? false;
      return [{ path, message: atKey ? issue.message : prefix(issue.message), atKey }];
    }
    case 'invalid_format':
      return [{ path, message: prefix(`invalid value ${show(got)}: ${issue.message}`) }];
    default:
      return [{ path, message: prefix(got === undefined ? issue.message : `${issue.message}, got ${kindOf(got)}`) }];
  }
}

type Def = { type: string; shape?: Record<string, unknown>; innerType?: unknown; in?: unknown; element?: unknown; options?: unknown[] };
const defOf = (schema: unknown): Def | undefined => (schema as { _zod?: { def?: Def } } | undefined)?._zod?.def;

/** The keys of the object schema a path leads to, through optional, nullable, pipes, arrays and unions. */
export function keysAt(schema: unknown, path: Path): string[] | null {
  let s = unwrap(schema);
  for (const seg of path) {
    const def = defOf(s);
    if (!def) return null;
    if (def.type === 'object' && typeof seg === 'string') s = unwrap(def.shape?.[seg]);
    else if (def.type === 'array' && typeof seg === 'number') s = unwrap(def.element);
    else return null;
  }
  const def = defOf(s);
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : null;
}

function unwrap(schema: unknown): unknown {
  let s = schema;
  for (let i = 0; i < 20; i++) {
    const def = defOf(s);
    if (!def) return s;
    if (def.type === 'optional' || def.type === 'nullable' || def.type === 'default') s = def.innerType;
    else if (def.type === 'pipe') s = def.in;
    else if (def.type === 'union') {
      const object = def.options?.find((o) => defOf(unwrap(o))?.type === 'object');
      if (!object) return s;
      s = object;
    } else return s;
  }
  return s;
}
