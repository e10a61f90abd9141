// dstack: src/tests/_internal/core/models/test_resources.py (Memory, ComputeCapability, Range[int],
// Range[Memory], CPUSpec, GPUSpec), each value put where a `.dstack.yml` takes it. `image: x` keeps
// the GPU vendor as parsed, but for known names, whose vendor dstack-ts infers while parsing (dstack
// does it when the server takes the run; see spec.test.ts).
import { describe } from 'vitest';
import type { DevEnvironmentConfiguration as Dev } from '../types';
import { accepts, refuses } from './cases';

const T = 'test_resources.py';
const dev = (resources: string) => `image: x\nresources:\n  ${resources}`;
const gpu = (over: Partial<Dev['resources']['gpu']>) => ({
  vendor: null,
  name: null,
  count: { min: 1, max: null },
  memory: null,
  total_memory: null,
  compute_capability: null,
  ...over,
});

describe('dstack test_resources.py: memory', () => {
  accepts<Dev>([
    { from: `${T}::TestMemory::test_mb`, yaml: dev('memory: 512MB'), get: (c) => c.resources.memory, want: { min: 0.5, max: 0.5 } },
    { from: `${T}::TestMemory::test_gb`, yaml: dev('memory: 16 Gb'), get: (c) => c.resources.memory, want: { min: 16, max: 16 } },
    { from: `${T}::TestMemory::test_tb`, yaml: dev('memory: "1 TB "'), get: (c) => c.resources.memory, want: { min: 1024, max: 1024 } },
    { from: `${T}::TestMemory::test_float`, yaml: dev('memory: 1.5'), get: (c) => c.resources.memory, want: { min: 1.5, max: 1.5 } },
    { from: `${T}::TestMemory::test_int`, yaml: dev('memory: 1'), get: (c) => c.resources.memory, want: { min: 1, max: 1 } },
    { from: `${T}::TestMemoryRange::test_mb`, yaml: dev('memory: 512MB'), get: (c) => c.resources.memory, want: { min: 0.5, max: 0.5 } },
    {
      from: `${T}::TestMemoryRange::test_from`,
      yaml: dev('memory: 512MB..'),
      get: (c) => c.resources.memory,
      want: { min: 0.5, max: null },
    },
    { from: `${T}::TestMemoryRange::test_to`, yaml: dev('memory: ..1 TB'), get: (c) => c.resources.memory, want: { min: null, max: 1024 } },
    {
      from: `${T}::TestMemoryRange::test_range`,
      yaml: dev('memory: 512..1 TB'),
      get: (c) => c.resources.memory,
      want: { min: 512, max: 1024 },
    },
    {
      from: `${T}::TestMemoryRange::test_dict`,
      yaml: dev('memory: {min: 512MB, max: 1TB}'),
      get: (c) => c.resources.memory,
      want: { min: 0.5, max: 1024 },
    },
  ]);
  refuses([
    { from: `${T}::TestMemory::test_invalid`, yaml: dev('memory: 1.5xb'), error: /invalid size/, quote: '"1.5xb"' },
    { from: `${T}::TestMemoryRange::test_invalid_range`, yaml: dev('memory: "..."'), error: /invalid size/, quote: '"."' },
  ]);
});

describe('dstack test_resources.py: compute capability', () => {
  accepts<Dev>([
    {
      from: `${T}::TestComputeCapability::test_str`,
      yaml: dev('gpu: {compute_capability: "3.5"}'),
      get: (c) => c.resources.gpu.compute_capability,
      want: '3.5',
    },
    {
      from: `${T}::TestComputeCapability::test_float`,
      yaml: dev('gpu: {compute_capability: 8.0}'),
      get: (c) => c.resources.gpu.compute_capability,
      want: '8.0',
    },
    {
      from: `${T}::TestComputeCapability::test_tuple`,
      yaml: dev('gpu: {compute_capability: [7, 5]}'),
      get: (c) => c.resources.gpu.compute_capability,
      want: '7.5',
    },
  ]);
  refuses([
    {
      from: `${T}::TestComputeCapability::test_invalid_len`,
      yaml: dev('gpu: {compute_capability: "3.5.1"}'),
      error: /invalid compute capability/,
      quote: '"3.5.1"',
    },
    {
      from: `${T}::TestComputeCapability::test_invalid_type`,
      yaml: dev('gpu: {compute_capability: "3.x"}'),
      error: /invalid compute capability/,
      quote: '"3.x"',
    },
  ]);
});

describe('dstack test_resources.py: integer ranges (a GPU count)', () => {
  accepts<Dev>([
    { from: `${T}::TestIntRange::test_int`, yaml: dev('gpu: {count: 1}'), get: (c) => c.resources.gpu.count, want: { min: 1, max: 1 } },
    { from: `${T}::TestIntRange::test_exact`, yaml: dev('gpu: {count: "1"}'), get: (c) => c.resources.gpu.count, want: { min: 1, max: 1 } },
    {
      from: `${T}::TestIntRange::test_from`,
      yaml: dev('gpu: {count: 1..}'),
      get: (c) => c.resources.gpu.count,
      want: { min: 1, max: null },
    },
    { from: `${T}::TestIntRange::test_to`, yaml: dev('gpu: {count: ..1}'), get: (c) => c.resources.gpu.count, want: { min: null, max: 1 } },
    {
      from: `${T}::TestIntRange::test_dict`,
      yaml: dev('gpu: {count: {min: 1, max: 3}}'),
      get: (c) => c.resources.gpu.count,
      want: { min: 1, max: 3 },
    },
  ]);
  refuses([
    {
      from: `${T}::TestIntRange::test_invalid_range`,
      yaml: dev('gpu: {count: ..}'),
      error: /invalid empty GPU count range/,
      quote: '".."',
    },
    { from: `${T}::TestIntRange::test_range_typo`, yaml: dev('gpu: {count: 1...3}'), error: /invalid count/, quote: '".3"' },
    { from: `${T}::TestIntRange::test_unordered`, yaml: dev('gpu: {count: 3..1}'), error: /range order/, quote: '"3..1"' },
  ]);
});

describe('dstack test_resources.py: cpu', () => {
  const cpu = (arch: string | null, min: number | null, max: number | null) => ({ arch, count: { min, max } });
  accepts<Dev>([
    { from: `${T}::TestCPU::test_integer`, yaml: dev('cpu: 1'), get: (c) => c.resources.cpu, want: cpu(null, 1, 1) },
    { from: `${T}::TestCPU::test_valid_string[1..2]`, yaml: dev('cpu: 1..2'), get: (c) => c.resources.cpu, want: cpu(null, 1, 2) },
    { from: `${T}::TestCPU::test_valid_string[X86]`, yaml: dev('cpu: X86'), get: (c) => c.resources.cpu, want: cpu('x86', 2, null) },
    { from: `${T}::TestCPU::test_valid_string[x86:2]`, yaml: dev('cpu: x86:2'), get: (c) => c.resources.cpu, want: cpu('x86', 2, 2) },
    {
      from: `${T}::TestCPU::test_valid_string[2..:ARM]`,
      yaml: dev('cpu: 2..:ARM'),
      get: (c) => c.resources.cpu,
      want: cpu('arm', 2, null),
    },
    { from: `${T}::TestCPU::test_range_dict`, yaml: dev('cpu: {min: 1, max: 2}'), get: (c) => c.resources.cpu, want: cpu(null, 1, 2) },
    {
      from: `${T}::TestCPU::test_valid_dict`,
      yaml: dev('cpu: {arch: ARM, count: {min: 1, max: 2}}'),
      get: (c) => c.resources.cpu,
      want: cpu('arm', 1, 2),
    },
  ]);
  refuses([
    { from: `${T}::TestCPU::test_invalid_string[arm:]`, yaml: dev('cpu: "arm:"'), error: /has an empty token/, quote: '"arm:"' },
    {
      from: `${T}::TestCPU::test_invalid_string[2:foo]`,
      yaml: dev('cpu: 2:foo'),
      error: /neither a count nor an architecture/,
      quote: '"foo"',
    },
    {
      from: `${T}::TestCPU::test_invalid_string[arm:x86]`,
      yaml: dev('cpu: arm:x86'),
      error: /gives the architecture twice/,
      quote: '"arm:x86"',
    },
    { from: `${T}::TestCPU::test_invalid_string[2:arm:2]`, yaml: dev('cpu: 2:arm:2'), error: /gives the count twice/, quote: '"2:arm:2"' },
    {
      from: `${T}::TestCPU::test_invalid_dict`,
      yaml: dev('cpu: {arch: x86, min: 1, max: 2}'),
      error: /unknown key `min` in resources.cpu/,
    },
  ]);
});

describe('dstack test_resources.py: gpu', () => {
  accepts<Dev>([
    { from: `${T}::TestGPU::test_count`, yaml: dev('gpu: "1"'), get: (c) => c.resources.gpu, want: gpu({ count: { min: 1, max: 1 } }) },
    {
      from: `${T}::TestGPU::test_vendor_in_string_form[vendor-only-mixedcase]`,
      yaml: dev('gpu: Nvidia'),
      get: (c) => c.resources.gpu,
      want: gpu({ vendor: 'nvidia' }),
    },
    {
      from: `${T}::TestGPU::test_vendor_in_string_form[vendor-lowercase-and-name]`,
      yaml: dev('gpu: google:v3-64'),
      get: (c) => c.resources.gpu,
      want: gpu({ vendor: 'google', name: ['v3-64'] }),
    },
    {
      from: `${T}::TestGPU::test_vendor_in_string_form[tpu-lowercase-and-name]`,
      yaml: dev('gpu: tpu:v5p-1024'),
      get: (c) => c.resources.gpu,
      want: gpu({ vendor: 'google', name: ['v5p-1024'] }),
    },
    {
      from: `${T}::TestGPU::test_vendor_in_string_form[name-and-tpu-uppercase]`,
      yaml: dev('gpu: v5litepod-64:TPU'),
      get: (c) => c.resources.gpu,
      want: gpu({ vendor: 'google', name: ['v5litepod-64'] }),
    },
    {
      from: `${T}::TestGPU::test_vendor_in_string_form[name-and-vendor-uppercase]`,
      yaml: dev('gpu: MI300X:AMD'),
      get: (c) => c.resources.gpu,
      want: gpu({ vendor: 'amd', name: ['MI300X'] }),
    },
    {
      from: `${T}::TestGPU::test_vendor_in_object_form[null]`,
      yaml: dev('gpu: {vendor: null}'),
      get: (c) => c.resources.gpu.vendor,
      want: null,
    },
    {
      from: `${T}::TestGPU::test_vendor_in_object_form[uppercase]`,
      yaml: dev('gpu: {vendor: NVIDIA}'),
      get: (c) => c.resources.gpu.vendor,
      want: 'nvidia',
    },
    {
      from: `${T}::TestGPU::test_vendor_in_object_form[lowercase]`,
      yaml: dev('gpu: {vendor: amd}'),
      get: (c) => c.resources.gpu.vendor,
      want: 'amd',
    },
    {
      from: `${T}::TestGPU::test_vendor_in_object_form[mixedcase]`,
      yaml: dev('gpu: {vendor: Google}'),
      get: (c) => c.resources.gpu.vendor,
      want: 'google',
    },
    {
      from: `${T}::TestGPU::test_vendor_in_object_form[tpu-lowercase]`,
      yaml: dev('gpu: {vendor: tpu}'),
      get: (c) => c.resources.gpu.vendor,
      want: 'google',
    },
    {
      from: `${T}::TestGPU::test_vendor_in_object_form[tpu-uppercase]`,
      yaml: dev('gpu: {vendor: TPU}'),
      get: (c) => c.resources.gpu.vendor,
      want: 'google',
    },
    {
      from: `${T}::TestGPU::test_vendor_in_object_form[enum-value]`,
      yaml: dev('gpu: {vendor: google}'),
      get: (c) => c.resources.gpu.vendor,
      want: 'google',
    },
    {
      from: `${T}::TestGPU::test_name`,
      yaml: dev('gpu: A100'),
      get: (c) => c.resources.gpu,
      want: gpu({ vendor: 'nvidia', name: ['A100'] }),
    },
    {
      from: `${T}::TestGPU::test_name_with_tpu_prefix`,
      yaml: dev('gpu: tpu-v3-2048'),
      get: (c) => c.resources.gpu.name,
      want: ['v3-2048'],
    },
    {
      from: `${T}::TestGPU::test_memory`,
      yaml: dev('gpu: 16GB'),
      get: (c) => c.resources.gpu,
      want: gpu({ memory: { min: 16, max: 16 } }),
    },
    {
      from: `${T}::TestGPU::test_names_count`,
      yaml: dev('gpu: A10,A10G:2'),
      get: (c) => c.resources.gpu,
      want: gpu({ vendor: 'nvidia', name: ['A10', 'A10G'], count: { min: 2, max: 2 } }),
    },
    {
      from: `${T}::TestGPU::test_memory_range`,
      yaml: dev('gpu: 16GB..32'),
      get: (c) => c.resources.gpu,
      want: gpu({ memory: { min: 16, max: 32 } }),
    },
  ]);
  refuses([
    { from: `${T}::TestGPU::test_empty_name`, yaml: dev('gpu: "A100,:2"'), error: /has an empty name/, quote: '"A100,"' },
    { from: `${T}::TestGPU::test_empty_token`, yaml: dev('gpu: "A100:"'), error: /has an empty token/, quote: '"A100:"' },
    {
      from: `${T}::TestGPU::test_vendor_conflict`,
      yaml: dev('gpu: Nvidia:A100:2:AMD'),
      error: /gives the vendor twice/,
      quote: '"Nvidia:A100:2:AMD"',
    },
    { from: `${T}::TestGPU::test_count_conflict`, yaml: dev('gpu: A100:2:3'), error: /gives the count twice/, quote: '"A100:2:3"' },
  ]);
});
