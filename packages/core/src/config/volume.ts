// `type: volume`: a network volume, as dstack's volume configuration
// (https://dstack.ai/docs/reference/dstack.yml/volume/): made at a backend (`backend`, `region`,
// `size`), or an existing one registered by its provider id (`volume_id`). Applied with `dstack
// apply`, listed and deleted with `dstack volume`. Parsed here on its own (not a run's
// Configuration): every problem at FILE:LINE:COL, as the other configuration types.
import { parseMemory } from '../resources/memory';
import { asMapping, checkKeys, Issues, show } from '../resources/errors';
import { isValidRunName } from '../names';
import { linePos, loadYaml, offsetOf } from './yaml-source';
import type { ConfigError } from './types';

export interface VolumeConfiguration {
  type: 'volume';
  name: string;
  backend: string;
  /** The provider's region or data center; '' when not written (a volume_id says where it is). */
  region: string;
  /** GB; 0 when not written (a registered volume has its own). */
  sizeGb: number;
  /** An existing volume at the provider: registered, never made nor deleted by dstack. */
  volumeId: string;
}

const KEYS = ['type', 'name', 'backend', 'region', 'size', 'volume_id'];

/** dstack's keys for providers dstack-ts has no volumes at: refused with the reason, not as unknown. */
const UNSUPPORTED: Record<string, string> = {
  availability_zone: '`availability_zone` is for AWS and GCP volumes; dstack-ts has network volumes on runpod and lambda only',
  auto_cleanup_duration: '`auto_cleanup_duration` is not supported by dstack-ts: delete an unused volume with `dstack volume delete NAME`',
  tags: '`tags` is not supported by dstack-ts (neither RunPod nor Lambda volumes take tags)',
  claim_name: '`claim_name` is for Kubernetes volumes, which dstack-ts does not have yet',
  storage_class_name: '`storage_class_name` is for Kubernetes volumes, which dstack-ts does not have yet',
  access_modes: '`access_modes` is for Kubernetes volumes, which dstack-ts does not have yet',
};

export type VolumeParseResult = { ok: true; config: VolumeConfiguration } | { ok: false; errors: ConfigError[] };

export function parseVolumeConfiguration(file: string, text: string): VolumeParseResult {
  const src = loadYaml(text);
  const at = (offset: number, message: string): ConfigError => ({ file, ...linePos(src, offset), message });
  if (src.errors.length) return { ok: false, errors: src.errors.map((e) => at(e.offset, `YAML syntax error: ${e.message}`)) };
  const obj = asMapping(src.doc.toJS());
  if (!obj) return { ok: false, errors: [at(0, 'expected a mapping of keys (type, name, backend, ...)')] };
  const issues = new Issues();
  for (const key of Object.keys(obj)) if (UNSUPPORTED[key]) issues.add([key], UNSUPPORTED[key], true);
  checkKeys(Object.fromEntries(Object.entries(obj).filter(([k]) => !UNSUPPORTED[k])), KEYS, 'a volume configuration', issues);
  if (obj.type !== 'volume') issues.add(['type'], 'expected `type: volume`');
  const stringField = (key: string, required: boolean): string => {
    const v = obj[key];
    if (v === undefined || v === null) {
      if (required) issues.add([], `missing \`${key}\``);
      return '';
    }
    if (typeof v !== 'string' || !v.trim()) {
      issues.add([key], `expected a string, got ${show(v)}`);
      return '';
    }
    return v.trim();
  };
  const name = stringField('name', true);
  if (name && !isValidRunName(name))
    issues.add(['name'], `invalid volume name ${show(name)}: lower-case letters, digits and -, starting with a letter (2 to 41)`);
  const backend = stringField('backend', true);
  const region = stringField('region', false);
  const volumeId = stringField('volume_id', false);
  const hasSize = obj.size !== undefined && obj.size !== null;
  const parsedSize = hasSize ? issues.at(['size'], () => parseMemory(obj.size)) : undefined;
  const sizeGb = parsedSize ?? 0;
  if (volumeId && hasSize) issues.add(['size'], '`size` is for a volume to make: a registered one (`volume_id`) has its own');
  if (!volumeId) {
    if (!region && backend) issues.add([], `missing \`region\`: the ${backend} region (data center) to make the volume in`);
    if (!hasSize) issues.add([], 'missing `size` (e.g. `size: 100GB`), or `volume_id` of an existing volume');
    else if (parsedSize !== undefined && parsedSize < 1) issues.add(['size'], `a volume of ${show(obj.size)} is too small: at least 1GB`);
  }
  if (!issues.ok) {
    const errors = issues.list.map((i) => at(offsetOf(src, i.path, i.atKey), i.message));
    errors.sort((a, b) => a.line - b.line || a.column - b.column);
    return { ok: false, errors };
  }
  return { ok: true, config: { type: 'volume', name, backend, region, sizeGb: Math.ceil(sizeGb), volumeId } };
}
