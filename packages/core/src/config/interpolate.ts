// `${{ NAMESPACE.NAME }}` references, with dstack's grammar (its VariablesInterpolator): `$$` is a
// literal `$`, a reference is one namespace and one name (letters, digits and _, not starting with a
// digit), and each place takes only some namespaces. `${{ env.NAME }}` (registry_auth) comes from the
// configuration's own `env` values first, then the CLI's environment; `${{ secrets.NAME }}` (env
// values, registry_auth) from the daemon's secrets (`dstack secret set`). A reference to a namespace
// the place does not take, or to a name with no value, is an error naming it, never the value.
import { GrammarError } from '../resources/errors';

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_.]*$/;

export type Namespace = 'env' | 'secrets';

type Lookup = (name: string) => string | undefined;

export interface Reference {
  namespace: Namespace;
  name: string;
}

export interface Interpolated {
  value: string;
  /** Every reference, in order. */
  refs: Reference[];
}

export interface InterpolateOptions {
  /** The namespaces this place takes; any other is an error. */
  namespaces: readonly Namespace[];
  /**
   * Resolve the references with these (a namespace without a lookup has no names). Undefined: the
   * references are checked and the text is kept exactly as written (`$$` included), for later.
   */
  resolve?: Partial<Record<Namespace, Lookup>>;
}

const MISSING: Record<Namespace, (names: string[]) => string> = {
  env: (names) =>
    `${names.map((n) => `\`${n}\``).join(', ')} ${names.length === 1 ? 'is' : 'are'} not set: list it in \`env\` with a value, or export it before running dstack`,
  secrets: (names) =>
    `no secret named ${names.map((n) => `\`${n}\``).join(', ')}: set it with \`dstack secret set ${names[0]}\` (see \`dstack secret list\`)`,
};

/** Replaces each reference in `s` (see InterpolateOptions); throws GrammarError naming what is wrong. */
export function interpolate(s: string, opts: InterpolateOptions): Interpolated {
  let out = '';
  const refs: Reference[] = [];
  const missing: Record<Namespace, string[]> = { env: [], secrets: [] };
  let i = 0;
  while (i < s.length) {
    const dollar = s.indexOf('$', i);
    if (dollar === -1 || dollar === s.length - 1) {
      out += s.slice(i);
      break;
    }
    if (s[dollar + 1] === '$') {
      out += s.slice(i, dollar + 1);
      i = dollar + 2;
      continue;
    }
    if (!s.startsWith('${{', dollar)) {
      out += s.slice(i, dollar + 1);
      i = dollar + 1;
      continue;
    }
    out += s.slice(i, dollar);
    const close = s.indexOf('}}', dollar);
    const shape = opts.namespaces.map((ns) => `\${{ ${ns}.NAME }}`).join(' or ');
    if (close === -1) throw new GrammarError(`unclosed reference ${JSON.stringify(s.slice(dollar))}: write ${shape}`);
    const ref = s.slice(dollar + 3, close).trim();
    const [ns, ...rest] = ref.split('.');
    if (!NAME_RE.test(ref) || rest.length !== 1 || !(opts.namespaces as readonly string[]).includes(ns)) {
      throw new GrammarError(`invalid reference \${{ ${ref} }}: only ${shape} ${opts.namespaces.length > 1 ? 'are' : 'is'} supported here`);
    }
    const namespace = ns as Namespace;
    const name = rest[0];
    refs.push({ namespace, name });
    if (opts.resolve) {
      const value = opts.resolve[namespace]?.(name);
      if (value === undefined) missing[namespace].push(name);
      else out += value;
    }
    i = close + 2;
  }
  const problems = (Object.keys(missing) as Namespace[])
    .filter((ns) => missing[ns].length)
    .map((ns) => MISSING[ns]([...new Set(missing[ns])]));
  if (problems.length) throw new GrammarError(problems.join('; '));
  return { value: opts.resolve ? out : s, refs };
}

/**
 * dstack's secret names (`dstack secret set NAME`): letters, digits, `_` and `-`, 1 to 200 characters.
 * Only those that also fit a reference (no `-`, not starting with a digit) can be used as
 * `${{ secrets.NAME }}`, as in dstack.
 */
export const SECRET_NAME_RE = /^[A-Za-z0-9_-]{1,200}$/;

/** What keeps `name` from being a secret's name; undefined when nothing does. */
export function secretNameProblem(name: string): string | undefined {
  if (SECRET_NAME_RE.test(name)) return undefined;
  return `invalid secret name ${JSON.stringify(name)}: use 1 to 200 letters, digits, _ or -`;
}

/** True when `${{ secrets.NAME }}` can name this secret. */
export function isReferableSecretName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}
