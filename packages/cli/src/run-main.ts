// Runs the program and turns every failure into one line on stderr and an exit code scripts can
// trust: 0 ok, 1 a failure the user can act on, 2 bad usage, 130 interrupted. Never a stack trace,
// unless DSTACK_DEBUG is set.
import type { Command } from 'commander';
import { CommanderError } from 'commander';
import { EXIT_FAILURE, EXIT_USAGE, ReportedError, UserError } from './errors';

export async function runMain(program: Command): Promise<void> {
  // Subcommands copy settings when they are made, so each needs it: commander must throw, not exit.
  const override = (cmd: Command) => {
    cmd.exitOverride();
    cmd.commands.forEach(override);
  };
  override(program);
  // `dstack ps | head` closes our stdout early: that is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    process.exitCode = exitCodeFor(err);
    if (err instanceof CommanderError || err instanceof ReportedError) {
      if (process.env.DSTACK_DEBUG && err instanceof ReportedError && err.stack) process.stderr.write(`${err.stack}\n`);
      return; // printed already
    }
    printError(err);
  }
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
    return err.exitCode === 0 ? 0 : EXIT_USAGE;
  }
  if (err instanceof UserError) return err.exitCode;
  return EXIT_FAILURE;
}

/** The one line a failure prints: `error: <message>`. */
export function errorLine(err: unknown): string {
  let message = err instanceof Error ? err.message : String(err);
  // A system error (ENOENT, EACCES...) from Node: its message already names the path.
  message = message.split('\n')[0].trim() || (err instanceof Error ? err.name : 'unknown error');
  return message.startsWith('error:') ? message : `error: ${message}`;
}

function printError(err: unknown): void {
  if (process.env.DSTACK_DEBUG && err instanceof Error && err.stack) {
    process.stderr.write(`${err.stack}\n`);
    return;
  }
  process.stderr.write(`${errorLine(err)}\n`);
}
