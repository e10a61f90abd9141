// The job's env: the configuration's env plus the variables dstack promises every job.
import type { JobSpec } from '@dstack/core/gen/agent';

export function jobEnv(spec: JobSpec, workingDir: string, hostGpus: number, runtime: 'docker' | 'host'): Record<string, string> {
  const g = spec.gpus;
  // On the host a job sees every GPU; in a container, what its device request gives it.
  // A fleet host's blocks name the GPUs: on the host they are all a process could see, so the
  // vendor's visibility variable narrows it; a container gets only them through its device request.
  const indices = g?.indices ?? [];
  const gpus = indices.length
    ? indices.length
    : runtime === 'host'
      ? hostGpus
      : g?.all
        ? hostGpus
        : Math.min(g?.count ?? 0, hostGpus || (g?.count ?? 0));
  const visible = indices.join(',');
  const visibility: Record<string, string> =
    runtime === 'host' && indices.length
      ? g?.vendor === 'amd'
        ? { ROCR_VISIBLE_DEVICES: visible, HIP_VISIBLE_DEVICES: visible }
        : { CUDA_VISIBLE_DEVICES: visible }
      : {};
  return {
    ...spec.env,
    ...visibility,
    DSTACK_RUN_NAME: spec.runName,
    DSTACK_REPO_ID: spec.repoId,
    DSTACK_GPUS_NUM: String(gpus),
    DSTACK_WORKING_DIR: workingDir,
  };
}
