import { spawnSync } from 'node:child_process';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { completionScript } from './completion';

function program(): Command {
  const p = new Command('dstack');
  p.command('apply').option('-f, --file <FILE>').option('-n, --name <NAME>').option('-y, --yes');
  const fleet = p.command('fleet').option('-v, --verbose');
  fleet.command('delete').argument('<name>');
  return p;
}

/** What bash offers for the words typed so far (the last one is being completed). */
function complete(script: string, words: string[], cwd = '/'): string[] {
  const line = words.map((w) => `'${w}'`).join(' ');
  const res = spawnSync(
    'bash',
    ['-c', `${script}\nCOMP_WORDS=(${line}); COMP_CWORD=${words.length - 1}; _dstack; printf '%s\\n' "\${COMPREPLY[@]}"`],
    { encoding: 'utf8', cwd },
  );
  if (res.status !== 0) throw new Error(res.stderr);
  return res.stdout.split('\n').filter(Boolean);
}

describe('completionScript', () => {
  it('completes commands, subcommands and options from the command tree', () => {
    const script = completionScript(program(), 'bash');
    expect(complete(script, ['dstack', ''])).toEqual(['apply', 'fleet']);
    expect(complete(script, ['dstack', 'apply', '-'])).toEqual(['-f', '--file', '-n', '--name', '-y', '--yes', '-h', '--help']);
    expect(complete(script, ['dstack', 'apply', '-n', 'x', '--y'])).toEqual(['--yes']);
    expect(complete(script, ['dstack', 'apply', '-n', ''])).toEqual([]);
    expect(complete(script, ['dstack', 'fleet', 'd'])).toEqual(['delete']);
    expect(complete(script, ['dstack', 'fleet', 'delete', '--h'])).toEqual(['--help']);
    // -f takes a file.
    expect(complete(script, ['dstack', 'apply', '-f', 'et'], '/')).toEqual(['etc']);
  });

  it('zsh runs the same function through bashcompinit', () => {
    const zsh = completionScript(program(), 'zsh');
    expect(zsh).toContain('autoload -U +X bashcompinit && bashcompinit');
    expect(zsh).toContain('complete -o default -F _dstack dstack');
  });
});
