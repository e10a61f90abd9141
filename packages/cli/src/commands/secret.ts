// dstack secret [list] | set NAME [VALUE] | get NAME | delete NAME [-y]: the user's secrets, kept by
// the daemon sealed in state.db and used as ${{ secrets.NAME }} in a run's env and registry_auth
// (the daemon fills them in; the CLI never receives a value but from `get`). set reads the value
// without echo on a terminal, else from stdin, so it need never be on a command line; a VALUE
// argument is taken as dstack takes it, with a warning.
import type { Command } from 'commander';
import { isReferableSecretName, secretNameProblem } from '@dstack/core/config/interpolate';
import { connect } from '../daemon/client';
import { UsageError, UserError } from '../errors';
import { printJson } from '../ui/output';
import { confirm, readSecret } from '../ui/prompt';
import { renderTable } from '../ui/table';
import { prettyDate } from '../ui/time-format';

function checkName(name: string): void {
  const problem = secretNameProblem(name);
  if (problem) throw new UsageError(problem);
}

/** All of stdin (a pipe, a file) with one final line break dropped: multi-line values come whole. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

async function secretValue(name: string, given: string | undefined): Promise<string> {
  if (given !== undefined) {
    process.stderr.write(
      'warning: a value on the command line stays in your shell history and shows in `ps` while dstack runs: ' +
        `pipe it instead (printf %s "$VALUE" | dstack secret set ${name}), or leave it out to be asked for it\n`,
    );
    return given;
  }
  return process.stdin.isTTY ? readSecret(`Value of ${name} (not shown)`) : readStdin();
}

export function register(program: Command): void {
  const cmd = program.command('secret').description('Manage secrets: used as ${{ secrets.NAME }} in env and registry_auth');
  cmd
    .command('list', { isDefault: true })
    .description('The secrets: names and when each was set, never values')
    .option('--json', 'print one JSON object')
    .action(async (opts: { json?: boolean }) => {
      const daemon = await connect();
      try {
        const res = await daemon.listSecrets();
        if (opts.json) {
          const { ListSecretsResponse } = await import('@dstack/core/gen/daemon');
          printJson(ListSecretsResponse.toJSON(res));
        } else if (!res.secrets.length) {
          process.stdout.write('No secrets. Set one: dstack secret set NAME (the value is asked for, or read from stdin)\n');
        } else {
          process.stdout.write(
            renderTable(
              ['NAME', 'SET'],
              res.secrets.map((s) => [s.name, prettyDate(Number(s.updatedMs)) || new Date(Number(s.updatedMs)).toISOString()]),
            ),
          );
        }
      } finally {
        daemon.close();
      }
    });
  cmd
    .command('set')
    .description('Create or replace a secret; the value is asked for without echo, or read from stdin')
    .argument('<name>', 'letters, digits, _ or - (1 to 200)')
    .argument('[value]', 'the value (discouraged: it lands in your shell history and in `ps`)')
    .action(async (name: string, given: string | undefined) => {
      checkName(name);
      const value = await secretValue(name, given);
      if (!value) throw new UsageError(`no value for secret ${name}: type it at the prompt, or pipe it on stdin`);
      const daemon = await connect();
      try {
        const res = await daemon.setSecret(name, value);
        const use = isReferableSecretName(name)
          ? `use it as \${{ secrets.${name} }} in env or registry_auth`
          : `it cannot be used as \${{ secrets.${name} }}: a reference takes letters, digits and _, not starting with a digit`;
        process.stdout.write(
          res.created ? `Secret ${name} set: ${use}\n` : `Secret ${name} updated: runs applied from now on get the new value\n`,
        );
      } finally {
        daemon.close();
      }
    });
  cmd
    .command('get')
    .description("Print a secret's value (the one command that shows it)")
    .argument('<name>', 'the secret')
    .action(async (name: string) => {
      checkName(name);
      const daemon = await connect();
      try {
        const res = await daemon.getSecret(name);
        process.stdout.write(`${res.value}\n`);
      } finally {
        daemon.close();
      }
    });
  cmd
    .command('delete')
    .description('Delete a secret (runs applied with it keep their value)')
    .argument('<name>', 'the secret')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name: string, opts: { yes?: boolean }) => {
      checkName(name);
      const daemon = await connect();
      try {
        if (!opts.yes) {
          const { secrets } = await daemon.listSecrets();
          if (!secrets.some((s) => s.name === name)) throw new UserError(`no secret named ${name}: see \`dstack secret list\``);
          if (!(await confirm(`Delete the secret ${name}?`))) {
            process.stdout.write('Exiting...\n');
            return;
          }
        }
        await daemon.deleteSecret(name);
        process.stdout.write(`Secret ${name} deleted\n`);
      } finally {
        daemon.close();
      }
    });
}
