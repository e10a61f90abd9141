// dstack: src/tests/_internal/server/services/runs/test_spec.py, the cases about one configuration
// (vendor and architecture defaults, what needs an `image`, retry); the replica- and node-group
// cases belong to services and tasks, the in-place update cases to the server.
import { describe } from 'vitest';
import type { DevEnvironmentConfiguration as Dev } from '../types';
import { accepts, refuses } from './cases';

const T = 'test_spec.py';
const V = `${T}::TestSetRunSpecResourcesDefaultsGpuVendor`;
const I = `${T}::TestValidateRunSpecGpuVendorAndImage`;
const A = `${T}::TestValidateRunSpecCpuArchAndImage`;
const vendor = (c: Dev) => c.resources.gpu.vendor;

describe('dstack test_spec.py: the GPU vendor dstack infers', () => {
  accepts<Dev>([
    ...(
      [
        ['A100', 'nvidia'],
        ['a40,l40', 'nvidia'],
        ['Mi300X', 'amd'],
        ['Gaudi2', 'intel'],
        ['n300', 'tenstorrent'],
        ['v5litepod-8', 'google'],
      ] as const
    ).map(([gpu, want]) => ({
      from: `${V}::test_sets_vendor_detected_by_gpu_names[${gpu}]`,
      yaml: `image: ubuntu\nresources:\n  gpu: ${gpu}`,
      get: vendor,
      want,
    })),
    ...['UNKNOWN1000', 'A100,UNKNOWN1000', 'A100,MI300X'].map((gpu) => ({
      from: `${V}::test_does_not_set_vendor_if_gpu_names_are_ambiguous[${gpu}]`,
      yaml: `image: ubuntu\nresources:\n  gpu: ${gpu}`,
      get: vendor,
      want: null,
    })),
    {
      from: `${V}::test_does_not_override_vendor_set_by_the_user`,
      yaml: 'image: ubuntu\nresources:\n  gpu: {vendor: amd, name: [A100]}',
      get: vendor,
      want: 'amd',
    },
    { from: `${V}::test_sets_nvidia_if_the_default_image_is_used`, yaml: 'resources:\n  gpu: "1"', get: vendor, want: 'nvidia' },
    {
      from: `${V}::test_does_not_set_vendor_if_the_default_image_is_not_used[ubuntu-None]`,
      yaml: 'image: ubuntu\nresources:\n  gpu: "1"',
      get: vendor,
      want: null,
    },
    {
      from: `${V}::test_does_not_set_vendor_if_the_default_image_is_not_used[None-True]`,
      yaml: 'docker: true\nresources:\n  gpu: "1"',
      get: vendor,
      want: null,
    },
    { from: `${V}::test_does_not_set_vendor_if_no_gpu_requested`, yaml: 'resources:\n  gpu: "0"', get: vendor, want: null },
    {
      from: `${V}::test_sets_default_gpu_spec_if_gpu_is_null`,
      yaml: 'resources:\n  gpu: null',
      get: (c) => [c.resources.gpu.name, c.resources.gpu.count, c.resources.gpu.vendor],
      want: [null, { min: 0, max: null }, 'nvidia'],
    },
  ]);
});

describe('dstack test_spec.py: accelerators the default image does not support need an image', () => {
  const unsupported = ['amd', 'MI300X', 'intel', 'Gaudi2', 'tenstorrent', 'n300'];
  refuses(
    unsupported.map((gpu) => ({
      from: `${I}::test_rejects_gpu_not_supported_by_the_default_image[${gpu}]`,
      yaml: `resources:\n  gpu: ${gpu}`,
      error: /`image` is required for (amd|intel|tenstorrent) GPUs/,
    })),
  );
  accepts<Dev>([
    ...unsupported.map((gpu) => ({
      from: `${I}::test_allows_any_gpu_if_the_default_image_is_not_used[rocm-None-${gpu}]`,
      yaml: `image: rocm\nresources:\n  gpu: ${gpu}`,
      get: (c: Dev) => c.image,
      want: 'rocm',
    })),
    ...unsupported.map((gpu) => ({
      from: `${I}::test_allows_any_gpu_if_the_default_image_is_not_used[None-True-${gpu}]`,
      yaml: `docker: true\nresources:\n  gpu: ${gpu}`,
      get: (c: Dev) => [c.docker, c.image],
      want: [true, null],
    })),
    ...['nvidia', 'H100', 'google', 'v5litepod-8', 'UNKNOWN1000'].map((gpu) => ({
      from: `${I}::test_allows_gpu_supported_by_the_default_image[${gpu}]`,
      yaml: `resources:\n  gpu: ${gpu}`,
      get: (c: Dev) => c.image,
      want: null,
    })),
    {
      from: `${I}::test_allows_any_vendor_if_no_gpu_requested`,
      yaml: 'resources:\n  gpu: {vendor: amd, count: 0}',
      get: vendor,
      want: 'amd',
    },
  ]);
  refuses([
    // dstack names every vendor the names belong to, so mixed names still need an image.
    {
      from: `${I}::test_rejects_gpu_not_supported_by_the_default_image (names of two vendors)`,
      yaml: 'resources:\n  gpu: A100,MI300X',
      error: /`image` is required for amd GPUs/,
    },
  ]);
});

describe('dstack test_spec.py: an ARM CPU needs an image', () => {
  refuses([
    { from: `${A}::test_rejects_arm_without_image`, yaml: 'resources:\n  cpu: arm:2', error: /`image` is required on ARM CPUs/ },
    {
      from: `${A}::test_rejects_arm_with_dind`,
      yaml: 'docker: true\nresources:\n  cpu: arm:2',
      error: /`docker: true` is not supported on ARM CPUs/,
    },
  ]);
  accepts<Dev>([
    { from: `${A}::test_allows_arm_gpu_without_image`, yaml: 'resources:\n  gpu: GH200', get: (c) => c.resources.cpu.arch, want: null },
    {
      from: `${A}::test_allows_arm_with_image`,
      yaml: 'image: ubuntu\nresources:\n  cpu: arm:2',
      get: (c) => c.resources.cpu.arch,
      want: 'arm',
    },
    ...(
      [
        ['None', ''],
        ['x86:2', 'resources:\n  cpu: x86:2'],
        ['H100', 'resources:\n  gpu: H100'],
      ] as const
    ).map(([id, yaml]) => ({
      from: `${A}::test_allows_x86_without_image[${id}]`,
      yaml: yaml || 'ide: vscode',
      get: (c: Dev) => c.image,
      want: null,
    })),
  ]);
});

describe('dstack test_spec.py: retry', () => {
  refuses([
    {
      from: `${T}::TestValidateRunSpecRetryDuration::test_rejects_negative_retry_duration_for_new_run_specs`,
      yaml: 'retry:\n  duration: -1',
      error: /retry.duration: invalid duration -1/,
      quote: '-1',
    },
  ]);
});
