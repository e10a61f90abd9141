// Every CLI command, in the order `dstack --help` lists them. Each module's register() only
// declares options; its action imports the heavy parts lazily.
import type { Command } from 'commander';

type Register = (program: Command) => void;
const commands: Register[] = [];

export function registerCommands(program: Command): void {
  for (const register of commands) register(program);
}
