// Entry of the `dstack` CLI. Commands register cheaply here; each loads what it needs (gRPC, YAML,
// zod) inside its action, so `dstack --help` and `dstack validate` start fast.
import { Command } from 'commander';
import { register as registerVersion } from './commands/version';
import { registerCommands } from './commands/index';
import { runMain } from './run-main';

const program = new Command();
program
  .name('dstack')
  .description('Dev environments on any machine: your code, your IDE, a GPU box, one command.')
  // `dstack ps -v` is ps's --verbose, not the program's --version.
  .enablePositionalOptions()
  .showHelpAfterError('(run with --help for usage)')
  .configureHelp({ sortSubcommands: false });

registerVersion(program);
registerCommands(program);
void runMain(program);
