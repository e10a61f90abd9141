// The two printed forms of a normalized configuration: toJson (the `--json` output, and what the
// daemon stores) and toYaml (readable, in dstack's own grammar, and valid input again; the keys and
// their forms come from each type's field table).
import { stringify } from 'yaml';
import { DEV_ENVIRONMENT_FIELDS } from './dev-environment';
import { yamlFrom } from './field-table';
import { FLEET_FIELDS } from './fleet';
import type { Configuration, DevEnvironmentConfiguration, FleetConfiguration } from './types';

export const MASK = '***';

export interface OutputOptions {
  /** Keep registry_auth.password in clear text (default: `"***"`). */
  revealSecrets?: boolean;
}

/** A deep copy of the configuration, plain JSON, with the registry password masked unless revealed. */
export function toJson<T extends Configuration>(config: T, opts: OutputOptions = {}): T {
  const copy = structuredClone(config);
  if (copy.type === 'dev-environment' && copy.registry_auth && !opts.revealSecrets) copy.registry_auth.password = MASK;
  return copy;
}

/** The configuration as YAML in dstack's grammar (defaults written out, unset fields left out). */
export function toYaml(config: Configuration, opts: OutputOptions = {}): string {
  const c = toJson(config, opts);
  const doc = c.type === 'dev-environment' ? devEnvironmentYaml(c) : fleetYaml(c);
  return stringify(dropEmpty(doc), { lineWidth: 0 });
}

function devEnvironmentYaml(c: DevEnvironmentConfiguration): Record<string, unknown> {
  return yamlFrom(c.type, DEV_ENVIRONMENT_FIELDS, c);
}

function fleetYaml(c: FleetConfiguration): Record<string, unknown> {
  return yamlFrom(c.type, FLEET_FIELDS, c);
}

/** Leaves out nulls, empty lists and empty mappings, recursively. */
function dropEmpty(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropEmpty);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const y = dropEmpty(x);
    if (y === null || y === undefined) continue;
    if (Array.isArray(y) && y.length === 0) continue;
    if (typeof y === 'object' && !Array.isArray(y) && Object.keys(y).length === 0) continue;
    out[k] = y;
  }
  return out;
}
