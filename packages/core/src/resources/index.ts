// The resource grammar (no I/O, no dependencies): parse `resources:` values exactly as dstack reads
// them, format them back, and the table of known accelerators.
export type { Range, CpuArch, GpuVendor, CpuSpec, GpuSpec, DiskSpec, ResourcesSpec } from './types';
export { CPU_ARCHS, GPU_VENDORS } from './types';
export { GrammarError, Issues, didYouMean, unknownKeyMessage, type GrammarIssue, type Path } from './errors';
export { parseRange, parseCount, parseCountRange, inRange, formatRange, formatRangeExplicit, fmtNum } from './range';
export { parseMemory, parseMemoryRange, formatGB } from './memory';
export { parseCpu, parseCpuArch, DEFAULT_CPU_COUNT } from './cpu';
export { parseGpu, parseGpuVendor, parseComputeCapability, DEFAULT_GPU_COUNT, NO_GPU_REQUIRED } from './gpu';
export { parseDisk, DEFAULT_DISK } from './disk';
export { parseResources, defaultResources, effectiveCpuArch, inferGpuVendor, requiresGpu, RESOURCES_KEYS, DEFAULT_MEMORY } from './spec';
export { formatResourcesSpec, formatGpuSpec } from './format';
export {
  KNOWN_GPUS,
  TPU_VERSIONS,
  lookupGpu,
  parseTpuName,
  vendorOfGpuName,
  isNvidiaSuperchip,
  computeCapabilityOf,
  normalizeGpuName,
  type KnownGpu,
} from './gpu-catalog';
