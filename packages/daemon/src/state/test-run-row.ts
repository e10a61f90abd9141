// Shared by the daemon's unit tests: a run row with every default (a `type: dev-environment` file
// with nothing else), for stores that need one.
import { parseConfiguration, type DevEnvironmentConfiguration } from '@dstack/core/config/index';
import type { RunRow } from './runs-store';

export function defaultDevEnvironment(): DevEnvironmentConfiguration {
  const r = parseConfiguration('.dstack.yml', 'type: dev-environment\n');
  if (!r.ok || r.config.type !== 'dev-environment') throw new Error('the default dev environment does not validate');
  return r.config;
}

export function testRunRow(over: Partial<RunRow> & Pick<RunRow, 'id' | 'name'>): RunRow {
  return {
    status: 'submitted',
    terminationReason: '',
    statusMessage: '',
    submittedMs: 1000,
    finishedMs: 0,
    configuration: defaultDevEnvironment(),
    secrets: null,
    configurationPath: '',
    repoDir: '',
    noRepo: false,
    repoId: '',
    ideVersion: '',
    attempt: 0,
    jobId: '',
    instanceKey: '',
    backend: '',
    region: '',
    price: 0,
    resourcesJson: '',
    retryAtMs: 0,
    runningMs: 0,
    runningSinceMs: 0,
    jobJson: '',
    sshAlias: '',
    gpuBlocks: '',
    keptJson: '',
    ...over,
  };
}
