// The `disk` grammar: a size or size range (`100GB`, `100GB..`, `200GB..1TB`), or {size: ...}.
// Defaults to 100GB.. .
import { type Issues, asMapping, checkKeys, show, type Path } from './errors';
import { parseMemoryRange } from './memory';
import type { DiskSpec } from './types';

export const DEFAULT_DISK: DiskSpec = { size: { min: 100, max: null } };

export function parseDisk(v: unknown, issues: Issues, path: Path = []): DiskSpec | undefined {
  if (typeof v === 'string' || typeof v === 'number') {
    const size = issues.at(path, () => parseMemoryRange(v, 'disk size'));
    return size && { size };
  }
  const o = asMapping(v);
  if (!o) {
    issues.add(path, `expected a disk size like 100GB or 100GB.., got ${show(v)}`);
    return undefined;
  }
  const before = issues.list.length;
  checkKeys(o, ['size'], 'resources.disk', issues, path);
  if (o.size === undefined || o.size === null) {
    issues.add(path, 'missing `size` in resources.disk');
    return undefined;
  }
  const size = issues.at([...path, 'size'], () => parseMemoryRange(o.size, 'disk size'));
  return issues.list.length > before || !size ? undefined : { size };
}
