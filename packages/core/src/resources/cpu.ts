// The `cpu` grammar: a count (`16`), a range (`2..8`, `4..`), an architecture with or without a count
// (`x86:16`, `arm:8..`, `2..:ARM`, `arm`), or the object form {arch, count} (and {min, max}, dstack's
// older form). The count defaults to 2.. .
import { GrammarError, type Issues, asMapping, checkKeys, show, type Path } from './errors';
import { parseCountRange } from './range';
import type { CpuArch, CpuSpec, Range } from './types';

export const DEFAULT_CPU_COUNT: Range = { min: 2, max: null };

const ARCH_ALIASES: Record<string, CpuArch> = { x86: 'x86', x86_64: 'x86', amd64: 'x86', arm: 'arm', arm64: 'arm', aarch64: 'arm' };

/** x86 (also x86_64, amd64) or arm (also arm64, aarch64), case-insensitive. */
export function parseCpuArch(v: unknown): CpuArch {
  const arch = typeof v === 'string' ? ARCH_ALIASES[v.toLowerCase()] : undefined;
  if (!arch) throw new GrammarError(`invalid CPU architecture ${show(v)}: use x86 or arm`);
  return arch;
}

export function parseCpu(v: unknown, issues: Issues, path: Path = []): CpuSpec | undefined {
  if (typeof v === 'number') v = String(v);
  if (typeof v === 'string') return issues.at(path, () => parseCpuString(v as string));
  const o = asMapping(v);
  if (!o) {
    issues.add(path, `expected a CPU count (16), a range (2..8) or ARCH:COUNT (x86:16), got ${show(v)}`);
    return undefined;
  }
  // dstack's older form: the count range itself.
  if (Object.keys(o).every((k) => k === 'min' || k === 'max') && Object.keys(o).length > 0) {
    const count = issues.at(path, () => parseCountRange(o, 'CPU count'));
    return count && { arch: null, count };
  }
  const before = issues.list.length;
  checkKeys(o, ['arch', 'count'], 'resources.cpu', issues, path);
  const arch = o.arch === undefined || o.arch === null ? null : issues.at([...path, 'arch'], () => parseCpuArch(o.arch));
  const count =
    o.count === undefined || o.count === null
      ? DEFAULT_CPU_COUNT
      : issues.at([...path, 'count'], () => parseCountRange(o.count, 'CPU count'));
  if (issues.list.length > before || arch === undefined || count === undefined) return undefined;
  return { arch, count };
}

function parseCpuString(s: string): CpuSpec {
  const spec: { arch?: CpuArch; count?: Range } = {};
  for (const token of s.replace(/\s+/g, '').split(':')) {
    if (token === '') throw new GrammarError(`CPU spec ${show(s)} has an empty token: write COUNT, ARCH or ARCH:COUNT, e.g. x86:16`);
    if (token.includes('..') || /^\d+$/.test(token)) {
      if (spec.count) throw new GrammarError(`CPU spec ${show(s)} gives the count twice`);
      spec.count = parseCountRange(token, 'CPU count');
    } else {
      let arch: CpuArch;
      try {
        arch = parseCpuArch(token);
      } catch {
        throw new GrammarError(`invalid CPU spec ${show(s)}: ${show(token)} is neither a count nor an architecture (x86, arm)`);
      }
      if (spec.arch) throw new GrammarError(`CPU spec ${show(s)} gives the architecture twice`);
      spec.arch = arch;
    }
  }
  return { arch: spec.arch ?? null, count: spec.count ?? DEFAULT_CPU_COUNT };
}
