// Shared by the configuration tests: parse a snippet and get the configuration or the errors.
import { expect } from 'vitest';
import { parseConfiguration } from './parse';
import type { ConfigError, Configuration, DevEnvironmentConfiguration, FleetConfiguration } from './types';

export function parseOk(text: string, env?: Record<string, string | undefined>): Configuration {
  const r = parseConfiguration('test.dstack.yml', text, env);
  if (!r.ok) expect.fail(`expected a valid configuration, got:\n${r.errors.map((e) => `${e.line}:${e.column}: ${e.message}`).join('\n')}`);
  return r.config;
}

export function parseErrors(text: string, env?: Record<string, string | undefined>): ConfigError[] {
  const r = parseConfiguration('test.dstack.yml', text, env);
  if (r.ok) expect.fail(`expected errors, got a valid configuration: ${JSON.stringify(r.config)}`);
  return r.errors;
}

export const dev = (body: string): DevEnvironmentConfiguration => parseOk(`type: dev-environment\n${body}`) as DevEnvironmentConfiguration;
export const fleet = (body: string): FleetConfiguration => parseOk(`type: fleet\n${body}`) as FleetConfiguration;
