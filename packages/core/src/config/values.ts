// Characters a value may hold, checked on what was written so the error points at it: no control
// characters (C0, DEL) anywhere, but for line breaks and tabs in env values and init commands (a
// certificate, a multi-line script); and the values that end up in ssh_config or a systemd unit (the
// fleet's hosts, users, keys and jump hosts, a dev environment's `user`) get no `"` or `\` either,
// nor anything else they cannot carry there.
import { controlCharIn, showValue } from '../quoting';
import type { GrammarIssue, Path } from '../resources/errors';
import { pathString } from './messages';
import type { ConfigurationType } from './types';

/**
 * text: any one-line value; multiline: tabs and line breaks allowed; hostname, user, path: they reach
 * ssh_config or systemd; hostkey: checked whole by its own parser (host-key.ts).
 */
export type ValueKind = 'text' | 'multiline' | 'hostname' | 'user' | 'path' | 'hostkey';

const SSH_SYSTEMD = 'which cannot go into ssh_config or a systemd unit';

/** What is wrong with `value` as a value of that kind; undefined when nothing is. */
export function valueProblem(value: string, kind: ValueKind): string | undefined {
  if (kind === 'hostkey') return undefined;
  const shown = showValue(value);
  const control = controlCharIn(kind === 'multiline' ? value.replace(/[\t\n]/g, '') : value);
  if (control) return `${shown} has a control character (${control})${kind === 'multiline' ? ' other than a tab or line break' : ''}`;
  if (kind === 'text' || kind === 'multiline') return undefined;
  const quote = /["\\]/.exec(value);
  if (quote) return `${shown} has a \`${quote[0]}\`, ${SSH_SYSTEMD}`;
  if ((kind === 'hostname' || kind === 'user') && /\s/.test(value))
    return `${shown} has whitespace, which a ${kind === 'user' ? 'user name' : 'host name'} cannot have`;
  if (kind === 'user' && /%|\$\{/.test(value)) return `${shown} has a \`%\` or \`\${\`, which OpenSSH may expand in a user name`;
  if (kind === 'path' && value.includes('${'))
    return `${shown} has \`\${\`, which OpenSSH expands as an environment variable in a key path`;
  return undefined;
}

const SSH_FIELDS: Record<string, ValueKind> = { hostname: 'hostname', user: 'user', identity_file: 'path', host_key: 'hostkey' };

/** The kind of the string at `path` of a configuration of `type`. */
export function kindAt(type: ConfigurationType, path: Path): ValueKind {
  const [first] = path;
  if (first === 'env' || first === 'init') return 'multiline';
  if (type === 'dev-environment') return path.length === 1 && first === 'user' ? 'user' : 'text';
  if (first !== 'ssh_config') return 'text';
  // ssh_config.{user,identity_file}, .proxy_jump.*, .hosts[i] (a hostname), .hosts[i].*, .hosts[i].proxy_jump.*
  let rest = path.slice(1);
  if (rest[0] === 'hosts' && typeof rest[1] === 'number') {
    if (rest.length === 2) return 'hostname';
    rest = rest.slice(2);
  }
  if (rest[0] === 'proxy_jump') rest = rest.slice(1);
  return rest.length === 1 ? (SSH_FIELDS[String(rest[0])] ?? 'text') : 'text';
}

/** Every string in the raw configuration checked against its kind; one issue per bad value. */
export function checkValues(type: ConfigurationType, raw: unknown): GrammarIssue[] {
  const issues: GrammarIssue[] = [];
  const walk = (v: unknown, path: Path) => {
    if (typeof v === 'string') {
      const problem = valueProblem(v, kindAt(type, path));
      if (problem) issues.push({ path, message: `${pathString(path)}: ${problem}` });
    } else if (Array.isArray(v)) {
      for (const [i, x] of v.entries()) walk(x, [...path, i]);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
    }
  };
  walk(raw, []);
  return issues;
}
