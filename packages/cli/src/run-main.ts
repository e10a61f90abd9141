// Runs the program and turns every failure into one line on stderr and an exit code scripts can
// trust: 0 ok, 1 a failure the user can act on, 2 bad usage, 130 interrupted. Never a stack trace,
// unless DSTACK_DEBUG is set.
import type { Command } from 'commander';
import { CommanderError } from 'commander';
import { UserError } from './errors';

export async function runMain(program: Command): Promise<void> {
  program.exitOverride();
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    process.exitCode = exitCodeFor(err);
    if (err instanceof CommanderError) return; // commander printed its message already
    printError(err);
  }
}

function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof UserError) return err.exitCode;
  return 1;
}

function printError(err: unknown): void {
  if (process.env.DSTACK_DEBUG && err instanceof Error && err.stack) {
    process.stderr.write(`${err.stack}\n`);
    return;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${message.startsWith('error:') ? message : `error: ${message}`}\n`);
}
