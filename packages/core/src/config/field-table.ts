// One table per configuration type, one row per key: what may be written (the input schema, with its
// description for `dstack schema`), the normalized value (a zod schema: the TypeScript type is
// inferred from it, and the daemon checks stored configurations with it), the default, how the
// parsed input becomes the value, and how the value is written back in dstack's grammar (toYaml).
// A new key is one row; parse, build, the stored check, toJson and toYaml all follow the table.
import { z } from 'zod';

/** What references are resolved with while building. */
export interface BuildContext {
  /** The CLI's environment for ${{ env.NAME }}; undefined: keep every reference as written (and only check it). */
  env?: Record<string, string | undefined>;
  /** The daemon's secrets for ${{ secrets.NAME }} when resolving; without it no secret is known. */
  secrets?: (name: string) => string | undefined;
  /** Filled while building: the keys whose value took a secret (`env.NAME`, `registry_auth.password`). */
  fromSecrets?: string[];
}

/** The parsed input of every key (zod's output of the input schemas; undefined where not written). */
type Parsed = Record<string, any>;

interface Field<S extends z.ZodType = z.ZodType> {
  /** What may be written under the key (nullish or optional: leaving it out means the default). */
  input: z.ZodType;
  /** The normalized value. */
  stored: S;
  /** The value when the key is left out or empty. */
  default: z.output<S> | (() => z.output<S>);
  /** From the parsed input (undefined when not written) to the value; default: as parsed, else the default. */
  build?: (value: any, parsed: Parsed, ctx: BuildContext) => z.output<S>;
  /** The value as written in the file, for toYaml (null: left out); default: as is. */
  yaml?: (value: z.output<S>, config: Record<string, unknown>) => unknown;
}

type FieldTable = Record<string, Field>;

/** The normalized configuration a table describes (without `type`). */
export type Built<T extends FieldTable> = { -readonly [K in keyof T]: z.output<T[K]['stored']> };

/** Declares a row with its value type taken from `stored` (so `default`, `build` and `yaml` are checked against it). */
export function field<S extends z.ZodType>(f: Field<S>): Field<S> {
  return f;
}

function defaultOf(f: Field): unknown {
  return typeof f.default === 'function' ? (f.default as () => unknown)() : f.default;
}

/** The schema of what may be written: `type` and every key of the table, nothing else. */
export function inputSchema<T extends string>(type: T, table: FieldTable) {
  const shape: Record<string, z.ZodType> = { type: z.literal(type) };
  for (const [k, f] of Object.entries(table)) shape[k] = f.input;
  return z.strictObject(shape);
}

/** The schema of the normalized configuration: `type` and every key's value. */
export function storedSchema<T extends string, F extends FieldTable>(type: T, table: F) {
  const shape = Object.fromEntries(Object.entries(table).map(([k, f]) => [k, f.stored])) as { [K in keyof F]: F[K]['stored'] };
  return z.strictObject({ type: z.literal(type), ...shape });
}

/** The normalized configuration from the parsed input, in the table's order. */
export function buildFrom<T extends string, F extends FieldTable>(
  type: T,
  table: F,
  parsed: Parsed,
  ctx: BuildContext,
): { type: T } & Built<F> {
  const out: Record<string, unknown> = { type };
  for (const [k, f] of Object.entries(table)) {
    const v = parsed[k] ?? undefined;
    out[k] = f.build ? f.build(v, parsed, ctx) : v === undefined ? defaultOf(f) : v;
  }
  return out as { type: T } & Built<F>;
}

/** The configuration in dstack's grammar, in the table's order (toYaml drops what is empty). */
export function yamlFrom(type: string, table: FieldTable, config: object): Record<string, unknown> {
  const values = config as Record<string, unknown>;
  const out: Record<string, unknown> = { type };
  for (const [k, f] of Object.entries(table)) out[k] = f.yaml ? f.yaml(values[k] as never, values) : values[k];
  return out;
}
