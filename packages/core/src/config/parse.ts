// parseConfiguration: YAML text → a normalized configuration, or every problem in the file, each at
// its file:line:col. Reads the YAML as dstack does, checks the structure with zod and the grammar,
// then the rules that span fields, then builds the normalized form with defaults.
import { didYouMean, type GrammarIssue, type Path } from '../resources/errors';
import {
  buildDevEnvironment,
  checkDevEnvironment,
  devEnvironmentSchema,
  DEV_ENVIRONMENT_DEPRECATED,
  DEV_ENVIRONMENT_UNSUPPORTED,
  type BuildContext,
} from './dev-environment';
import { buildFleet, checkFleet, fleetSchema, FLEET_UNSUPPORTED } from './fleet';
import { issuesFromZod } from './messages';
import { checkValues } from './values';
import { linePos, loadYaml, offsetOf, scalarAt, type YamlSource } from './yaml-source';
import { CONFIGURATION_TYPES, type ConfigError, type Configuration, type ConfigurationType, type ParseResult } from './types';

type Raw = Record<string, unknown>;

interface Kind {
  schema(): { safeParse(v: unknown, opts?: object): { success: boolean; data?: unknown; error?: { issues: unknown[] } } };
  unsupported: Record<string, string>;
  /** Keys accepted with a warning. */
  deprecated?: Record<string, string>;
  check(raw: Raw, data: Record<string, unknown> | null, ctx: BuildContext): GrammarIssue[];
  build(data: Record<string, unknown>, ctx: BuildContext): Configuration;
}

const KINDS: Record<ConfigurationType, Kind> = {
  'dev-environment': {
    schema: devEnvironmentSchema as Kind['schema'],
    unsupported: DEV_ENVIRONMENT_UNSUPPORTED,
    deprecated: DEV_ENVIRONMENT_DEPRECATED,
    check: checkDevEnvironment,
    build: buildDevEnvironment,
  },
  fleet: {
    schema: fleetSchema as Kind['schema'],
    unsupported: FLEET_UNSUPPORTED,
    check: (raw, data) => checkFleet(raw, data),
    build: (data) => buildFleet(data),
  },
};

/** dstack's other configuration types: known, but not something dstack-ts runs. */
const OTHER_DSTACK_TYPES = ['task', 'service', 'gateway', 'volume'];

/**
 * Parses and validates a configuration file's text. `file` is only used in errors. `env` is the CLI's
 * environment for `${{ env.NAME }}` in registry_auth (a reference to an unset variable is an error);
 * leave it out to check references without resolving them (`dstack validate`). `secrets` gives the
 * values of `${{ secrets.NAME }}` in env values and registry_auth when resolving (an unknown secret is
 * an error at its place); the result's `fromSecrets` names the keys whose value took one. Env entries
 * without a value stay null: they are never filled from `env` here. `warnings`: each deprecated key
 * the file uses (accepted, as dstack accepts it), at its place.
 */
export function parseConfiguration(
  file: string,
  text: string,
  env?: Record<string, string | undefined>,
  secrets?: (name: string) => string | undefined,
): ParseResult {
  const src = loadYaml(text);
  const errorAt = (offset: number, message: string): ConfigError => ({ file, ...linePos(src, offset), message });
  if (src.errors.length)
    return { ok: false, errors: sortErrors(src.errors.map((e) => errorAt(e.offset, `YAML syntax error: ${e.message}`))) };

  const raw: unknown = src.doc.toJS({ maxAliasCount: 1000 });
  const start = (src.doc.contents?.range?.[0] as number | undefined) ?? 0;
  if (raw === null || raw === undefined) {
    return fail(errorAt(0, 'the file is empty: a configuration starts with `type: dev-environment` or `type: fleet`'));
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    return fail(errorAt(start, `expected a mapping of keys (type, name, ...), got ${Array.isArray(raw) ? 'a list' : 'a single value'}`));
  }
  const obj = raw as Raw;
  const typeError = checkType(obj.type);
  if (typeError) return fail(errorAt(offsetOf(src, obj.type === undefined ? [] : ['type']), typeError));
  const type = obj.type as ConfigurationType;
  keepSourceText(src, obj);

  const kind = KINDS[type];
  const ctx: BuildContext = { env, secrets, fromSecrets: [] };
  const schema = kind.schema();
  const parsed = schema.safeParse(obj, { reportInput: true });
  const data = parsed.success ? (parsed.data as Record<string, unknown>) : null;
  const issues: GrammarIssue[] = [];
  for (const issue of parsed.error?.issues ?? []) {
    issues.push(
      ...issuesFromZod(issue as Parameters<typeof issuesFromZod>[0], { raw: obj, root: type, unsupported: kind.unsupported, schema }),
    );
  }
  issues.push(...kind.check(obj, data, ctx), ...checkValues(type, obj));
  if (issues.length || !data) {
    return { ok: false, errors: sortErrors(issues.map((i) => errorAt(offsetOf(src, i.path, i.atKey), i.message))) };
  }
  const config = kind.build(data, ctx);
  const warnings = Object.entries(kind.deprecated ?? {})
    .filter(([key]) => key in obj)
    .map(([key, message]) => errorAt(offsetOf(src, [key], true), message));
  return { ok: true, config, fromSecrets: ctx.fromSecrets ?? [], warnings: sortErrors(warnings) };
}

/** `FILE:LINE:COL: message`: how every configuration error is printed. */
export function formatError(e: ConfigError): string {
  return `${e.file}:${e.line}:${e.column}: ${e.message}`;
}

function fail(error: ConfigError): ParseResult {
  return { ok: false, errors: [error] };
}

function checkType(type: unknown): string | null {
  const supported = CONFIGURATION_TYPES.join(' or ');
  if (type === undefined || type === null) return `missing \`type\`: set \`type: dev-environment\` or \`type: fleet\``;
  if (typeof type !== 'string') return `\`type\` must be ${supported}`;
  if ((CONFIGURATION_TYPES as readonly string[]).includes(type)) return null;
  if (type === 'volume')
    return `\`type: volume\` is a network volume, not a run: \`dstack apply -f FILE\` makes it (volume.ts), \`dstack volume\` lists and deletes it`;
  if (OTHER_DSTACK_TYPES.includes(type)) return `\`type: ${type}\` is a dstack type that dstack-ts does not run: use ${supported}`;
  const guess = didYouMean(type, CONFIGURATION_TYPES);
  return `unknown type "${type}": use ${supported}${guess ? ` (did you mean \`${guess}\`?)` : ''}`;
}

/**
 * Where YAML 1.1 reads a number but the text is what counts: in the mapping form of `env` (`X: 1.10`
 * is "1.10", not "1.1"), and ports written as `8000:50`, which YAML 1.1 reads as a base-60 number.
 */
function keepSourceText(src: YamlSource, obj: Raw): void {
  const env = obj.env;
  if (env && typeof env === 'object' && !Array.isArray(env)) {
    for (const [key, value] of Object.entries(env as Raw)) {
      if (typeof value === 'number' || typeof value === 'boolean') {
        (env as Raw)[key] = scalarAt(src, ['env', key] as Path)?.source ?? String(value);
      }
    }
  }
  if (Array.isArray(obj.ports)) {
    obj.ports.forEach((value, i) => {
      const source = typeof value === 'number' ? scalarAt(src, ['ports', i])?.source : undefined;
      if (source?.includes(':')) (obj.ports as unknown[])[i] = source;
    });
  }
}

function sortErrors(errors: ConfigError[]): ConfigError[] {
  const seen = new Set<string>();
  return errors
    .filter((e) => {
      const key = `${e.line}:${e.column}:${e.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => a.line - b.line || a.column - b.column);
}
