// Every CLI command, in the order `dstack --help` lists them. Each module's register() only
// declares options; its action imports the heavy parts lazily.
import type { Command } from 'commander';
import { register as apply } from './apply';
import { register as ps } from './ps';
import { register as attach } from './attach';
import { register as sync } from './sync';
import { register as logs } from './logs';
import { register as metrics } from './metrics';
import { register as stop } from './stop';
import { register as start } from './start';
import { register as deleteRun } from './delete';
import { register as offer } from './offer';
import { register as fleet } from './fleet';
import { register as backend } from './backend';
import { register as secret } from './secret';
import { register as volume } from './volume';
import { register as daemon } from './daemon';
import { register as validate } from './validate';
import { register as schema } from './schema';
import { register as completion } from './completion';

type Register = (program: Command) => void;
const commands: Register[] = [
  apply,
  ps,
  attach,
  sync,
  logs,
  metrics,
  stop,
  start,
  deleteRun,
  offer,
  fleet,
  backend,
  secret,
  volume,
  daemon,
  validate,
  schema,
  completion,
];

export function registerCommands(program: Command): void {
  for (const register of commands) register(program);
}
