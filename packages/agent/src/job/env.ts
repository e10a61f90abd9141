// The job's env: the configuration's env plus the variables dstack promises every job.
import type { JobSpec } from '@dstack/core/gen/agent';

export function jobEnv(spec: JobSpec, workingDir: string, hostGpus: number, runtime: 'docker' | 'host'): Record<string, string> {
  const g = spec.gpus;
  // On the host a job sees every GPU; in a container, what its device request gives it.
  const gpus = runtime === 'host' ? hostGpus : g?.all ? hostGpus : Math.min(g?.count ?? 0, hostGpus || (g?.count ?? 0));
  return {
    ...spec.env,
    DSTACK_RUN_NAME: spec.runName,
    DSTACK_REPO_ID: spec.repoId,
    DSTACK_GPUS_NUM: String(gpus),
    DSTACK_WORKING_DIR: workingDir,
  };
}
