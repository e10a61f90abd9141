// The resource grammar (no I/O, no dependencies): parse `resources:` values exactly as dstack reads
// them, format them back, and the table of known accelerators.
export { effectiveCpuArch } from './spec';
export { formatResourcesSpec } from './format';
