// `${{ env.NAME }}` references, as dstack fills them in `registry_auth`: from the configuration's own
// `env` values first, then the CLI's environment. `$$` is a literal `$`. A reference to a variable that
// is not set is an error naming it; only the `env` namespace exists here.
import { GrammarError } from '../resources/errors';

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_.]*$/;

export interface Interpolated {
  value: string;
  /** Names referenced (`NAME` of `env.NAME`). */
  names: string[];
}

/**
 * Replaces each `${{ env.NAME }}` in `s` with lookup(NAME). With no lookup, references are checked
 * and kept as written. Throws GrammarError on a malformed reference or a variable that is not set.
 */
export function interpolate(s: string, lookup?: (name: string) => string | undefined): Interpolated {
  let out = '';
  const names: string[] = [];
  const missing: string[] = [];
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
    if (close === -1) throw new GrammarError(`unclosed reference ${JSON.stringify(s.slice(dollar))}: write \${{ env.NAME }}`);
    const ref = s.slice(dollar + 3, close).trim();
    const [ns, ...rest] = ref.split('.');
    if (!NAME_RE.test(ref) || ns !== 'env' || rest.length !== 1) {
      throw new GrammarError(`invalid reference \${{ ${ref} }}: only \${{ env.NAME }} is supported`);
    }
    const name = rest[0];
    names.push(name);
    if (lookup) {
      const value = lookup(name);
      if (value === undefined) missing.push(name);
      else out += value;
    } else {
      out += s.slice(dollar, close + 2);
    }
    i = close + 2;
  }
  if (missing.length) {
    throw new GrammarError(
      `${missing.map((n) => `\`${n}\``).join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set: list it in \`env\` with a value, or export it before running dstack`,
    );
  }
  // Not resolving: the text stays exactly as written (`$$` included), for a later resolution.
  return { value: lookup ? out : s, names };
}
