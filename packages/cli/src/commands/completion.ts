// dstack completion bash|zsh: a completion script for the shell, made from the command tree itself
// (commands, subcommands, options; file names after -f/--file and other FILE or PATH options), as
// dstack's `completion` prints argcomplete's. zsh runs the bash function through bashcompinit.
import type { Command, Option } from 'commander';
import { UsageError } from '../errors';

const SHELLS = ['bash', 'zsh'];

export function register(program: Command): void {
  program
    .command('completion')
    .description('Print a shell completion script (bash or zsh)')
    .argument('<shell>', 'bash or zsh')
    .addHelpText('after', '\nIn ~/.bashrc: eval "$(dstack completion bash)"; in ~/.zshrc, after compinit: eval "$(dstack completion zsh)"')
    .action((shell: string) => {
      if (!SHELLS.includes(shell)) throw new UsageError(`completion ${JSON.stringify(shell)}: use bash or zsh`);
      process.stdout.write(completionScript(program, shell as 'bash' | 'zsh'));
    });
}

interface Node {
  /** The words from the program down to this command, space-separated, with a leading space (`''`: the program). */
  path: string;
  subcommands: string[];
  options: string[];
  /** Options that take a value, and whether the value is a file. */
  valued: { flag: string; file: boolean }[];
}

function flagsOf(o: Option): string[] {
  return [o.short, o.long].filter((f): f is string => Boolean(f));
}

/** Every command of the tree with what may follow it. */
function nodes(cmd: Command, path = ''): Node[] {
  const options = cmd.options.filter((o) => !o.hidden);
  const valued = options
    .filter((o) => o.required || o.optional)
    .flatMap((o) => flagsOf(o).map((flag) => ({ flag, file: /FILE|PATH/.test(o.flags) })));
  const node: Node = {
    path,
    subcommands: cmd.commands.map((c) => c.name()),
    options: [...options.flatMap(flagsOf), '-h', '--help'],
    valued,
  };
  return [node, ...cmd.commands.flatMap((c) => nodes(c, `${path} ${c.name()}`))];
}

/** A bash case pattern: the words quoted, joined with `|`. */
const pattern = (words: string[]) => words.map((w) => `"${w}"`).join('|');

export function completionScript(program: Command, shell: 'bash' | 'zsh'): string {
  const all = nodes(program);
  const steps = all.flatMap((n) => n.subcommands.map((s) => `${n.path}|${s}`));
  const skips = all.flatMap((n) => n.valued.map((v) => `${n.path}|${v.flag}`));
  const files = all.flatMap((n) => n.valued.filter((v) => v.file).map((v) => `${n.path}|${v.flag}`));
  const lists = all.map((n) => `    "${n.path}") subs="${n.subcommands.join(' ')}"; opts="${n.options.join(' ')}" ;;`);
  const body = [
    '_dstack() {',
    '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
    '  local state="" i w skip=0',
    '  # The command the cursor is in: the subcommand names before it, skipping the values of options.',
    '  for ((i = 1; i < COMP_CWORD; i++)); do',
    '    w="${COMP_WORDS[i]}"',
    '    if ((skip)); then skip=0; continue; fi',
    '    case "$state|$w" in',
    ...(steps.length ? [`      ${pattern(steps)}) state="$state $w" ;;`] : []),
    ...(skips.length ? [`      ${pattern(skips)}) skip=1 ;;`] : []),
    '    esac',
    '  done',
    '  case "$state|$prev" in',
    ...(files.length ? [`    ${pattern(files)}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`] : []),
    ...(skips.length ? [`    ${pattern(skips)}) COMPREPLY=(); return ;;`] : []),
    '  esac',
    '  local subs="" opts=""',
    '  case "$state" in',
    ...lists,
    '  esac',
    '  if [[ "$cur" == -* ]]; then',
    '    COMPREPLY=($(compgen -W "$opts" -- "$cur"))',
    '  else',
    '    COMPREPLY=($(compgen -W "$subs" -- "$cur"))',
    '  fi',
    '}',
    'complete -o default -F _dstack dstack',
    '',
  ];
  const head =
    shell === 'bash'
      ? ['# dstack completion for bash: eval "$(dstack completion bash)" in ~/.bashrc']
      : [
          '# dstack completion for zsh: eval "$(dstack completion zsh)" in ~/.zshrc, after compinit',
          'autoload -U +X bashcompinit && bashcompinit',
        ];
  return [...head, ...body].join('\n');
}
