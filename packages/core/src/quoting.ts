// Values written into text another program parses: a POSIX shell's words, ssh_config(5) arguments,
// systemd unit settings and EnvironmentFile lines. Each writer either writes a value so that the reader
// gets back exactly that value, or refuses it with a QuotingError: never text that reads as something
// else (a newline that starts a new directive, a `%` that becomes a specifier, a quote that ends early).

export class QuotingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuotingError';
  }
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

/** The first C0 control character or DEL in `s`, as `U+000A`; undefined when there is none. */
export function controlCharIn(s: string): string | undefined {
  const m = CONTROL.exec(s);
  return m ? `U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}` : undefined;
}

/** `s` as a double-quoted string for messages, every control character escaped (DEL too, which JSON leaves raw). */
export function showValue(s: string): string {
  return JSON.stringify(s).replace(/\x7f/g, '\\u007f');
}

function refuseControl(s: string, where: string): void {
  const c = controlCharIn(s);
  if (c) throw new QuotingError(`${where}: ${showValue(s)} has a control character (${c}), which cannot be written there`);
}

/** One word for a POSIX shell (sh, dash, bash, busybox): as is when every character is safe, else single-quoted. */
export function shellWord(s: string): string {
  if (s.includes('\0')) throw new QuotingError(`shell word ${showValue(s)}: a NUL byte cannot be passed to a command`);
  if (/^[A-Za-z0-9_\-./=:@%+,]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

// ssh_config keywords whose arguments OpenSSH expands: `%` tokens (`%%` is a literal `%`), and `${VAR}`
// environment references, which have no escape at all. OpenSSH 9.2 expands neither in User; newer
// releases expand both there, so a `%` or `${` in a user name means something else from one ssh to the next.
const SSH_PERCENT = new Set([
  'hostname',
  'identityfile',
  'userknownhostsfile',
  'certificatefile',
  'controlpath',
  'identityagent',
  'localcommand',
  'remotecommand',
  'proxycommand',
  'knownhostscommand',
]);
const SSH_DOLLAR = new Set(['identityfile', 'userknownhostsfile', 'certificatefile', 'controlpath', 'identityagent', 'knownhostscommand']);
const SSH_VERSION_DEPENDENT = new Set(['user']);
// Include takes glob patterns: a `*`, `?` or `[` in the path would match other files.
const SSH_GLOB = new Set(['include']);

/**
 * An ssh_config argument for `keyword`, read back by OpenSSH as `value`: double-quoted when it holds
 * anything the tokenizer would split on or unescape (whitespace, quotes, `\`, `#`, `=`), with `\` and `"`
 * escaped inside; `%` doubled where the keyword expands tokens. A value ssh_config cannot carry (a line
 * break or another control character, `${` where environment references are expanded, `%` or `${` in
 * User, glob characters in Include) is refused.
 */
export function sshConfigValue(keyword: string, value: string | number): string {
  const s = String(value);
  const kw = keyword.toLowerCase();
  const where = `ssh_config ${keyword}`;
  refuseControl(s, where);
  if (SSH_VERSION_DEPENDENT.has(kw) && /%|\$\{/.test(s)) {
    throw new QuotingError(`${where}: ${showValue(s)} has a \`%\` or \`\${\`, which OpenSSH releases read differently there`);
  }
  if ((SSH_DOLLAR.has(kw) || SSH_VERSION_DEPENDENT.has(kw)) && s.includes('${')) {
    throw new QuotingError(`${where}: ${showValue(s)} has \`\${\`, which OpenSSH expands as an environment variable there`);
  }
  if (SSH_GLOB.has(kw) && /[*?[]/.test(s)) throw new QuotingError(`${where}: ${showValue(s)} has a glob character (* ? [)`);
  const escaped = SSH_PERCENT.has(kw) ? s.replace(/%/g, '%%') : s;
  if (escaped !== '' && !/[\s"'\\#=]/.test(escaped)) return escaped;
  return `"${escaped.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

// systemd unit files: every setting's value goes through specifier expansion first (`%%` is a
// literal `%`); ExecStart= and Environment= then split words on whitespace and unquote "..." with C
// escapes. Control characters are refused everywhere: a line break ends the setting.

function specifiers(s: string): string {
  return s.replace(/%/g, '%%');
}

function quotedWord(s: string): string {
  return /^[A-Za-z0-9_\-./=:@+,%$]+$/.test(s) ? s : `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * ExecStart= (and the other Exec*= settings) for `argv`. The executable's path takes no quotes or
 * backslashes (systemd refuses them there) and no variable expansion; the arguments are quoted where
 * needed, with `$` doubled (systemd expands `$VAR` in them) and a lone `;` escaped (it separates commands).
 */
export function systemdExecLine(argv: string[]): string {
  const [exe, ...args] = argv;
  if (exe === undefined) throw new QuotingError('systemd ExecStart: no command');
  refuseControl(exe, 'systemd ExecStart');
  if (!exe.startsWith('/') || /["\\]/.test(exe)) {
    throw new QuotingError(`systemd ExecStart: ${showValue(exe)} must be an absolute path without quotes or backslashes`);
  }
  const words = args.map((a) => {
    refuseControl(a, 'systemd ExecStart');
    return a === ';' ? '\\;' : quotedWord(specifiers(a).replace(/\$/g, '$$$$'));
  });
  return [quotedWord(specifiers(exe)), ...words].join(' ');
}

/** One Environment= assignment, `NAME=value`, quoted where needed (systemd does not expand `$` there). */
export function systemdEnvironment(name: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new QuotingError(`systemd Environment: ${showValue(name)} is not a variable name`);
  refuseControl(value, `systemd Environment ${name}`);
  return quotedWord(specifiers(`${name}=${value}`));
}

/**
 * A setting systemd takes as is, without unquoting (User=, EnvironmentFile=, WorkingDirectory=): only
 * specifiers are escaped. Refused: what the unit file's own syntax would change (whitespace at either
 * end is trimmed, a `\` at the end continues the line) and an empty value (it resets the setting).
 */
export function systemdValue(setting: string, value: string): string {
  refuseControl(value, `systemd ${setting}`);
  if (value.trim() !== value || value === '' || value.endsWith('\\')) {
    throw new QuotingError(
      `systemd ${setting}: ${showValue(value)} cannot be written there (empty, whitespace at an end, or a trailing backslash)`,
    );
  }
  return specifiers(value);
}

/**
 * An EnvironmentFile= file: one `NAME="value"` a line. Inside double quotes systemd keeps every
 * character (line breaks too) and unescapes `\"`, `\\`, `` \` `` and `\$`, as the shell does; no specifiers.
 */
export function systemdEnvFile(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([name, value]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
        throw new QuotingError(`systemd EnvironmentFile: ${showValue(name)} is not a variable name`);
      if (value.includes('\0')) throw new QuotingError(`systemd EnvironmentFile: the value of ${name} has a NUL byte`);
      return `${name}="${value.replace(/[\\"`$]/g, (c) => `\\${c}`)}"\n`;
    })
    .join('');
}
