// Every key a dev environment may say goes somewhere: into the agent's JobSpec, into the plan (which
// offers are picked), into the daemon's handling of the run (its name, limits, retry, the instance
// kept after it), to the CLI through the Run view, or it is refused with a line saying why. The keys
// are read from core's field table and refused list, so a key added later without a row here fails,
// and each row checks the key's effect: the outcome of the function that reads it, without the key
// and with it. None is parsed and dropped (home_dir has no effect on purpose, as in dstack, and says so).
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfiguration, type DevEnvironmentConfiguration } from '@dstack/core/config/index';
import { DEV_ENVIRONMENT_DEPRECATED, DEV_ENVIRONMENT_FIELDS, DEV_ENVIRONMENT_UNSUPPORTED } from '@dstack/core/config/dev-environment';
import type { JobSpec } from '@dstack/core/gen/agent';
import { GetPlanRequest, Offer } from '@dstack/core/gen/daemon';
import type { Backend, InstanceRecord } from '@dstack/backends/backend';
import type { InstanceStatus } from '../state/instances-store';
import type { RunRow } from '../state/runs-store';
import { testRunRow } from '../state/test-run-row';
import { Ending, type EndingDeps } from './ending';
import { retriesAfter } from './instance-loss';
import { readJobFiles } from './job-files';
import { buildJobSpec, defaultBaseImage, defaultPython } from './job-spec';
import { exceededLimit } from './limits';
import { planOffers } from './planner';
import { RunService, type RunServiceDeps } from './service';
import { runConfigurationView } from './views';

type Config = DevEnvironmentConfiguration;

function parse(text: string) {
  return parseConfiguration('.dstack.yml', `type: dev-environment\n${text}`, {});
}

function config(text: string): Config {
  const r = parse(text);
  if (!r.ok || r.config.type !== 'dev-environment') throw new Error(JSON.stringify(r));
  return r.config;
}

/** What a row's check reads from a configuration file (its text, and its parsed value). */
type Effect = (file: { text: string; config: Config }) => unknown;

// job-spec: a field of the agent's JobSpec (no base image override, so the default image shows).
function spec(c: Config): JobSpec {
  return buildJobSpec({
    jobId: 'j',
    runId: 'r',
    runName: 'run',
    repoId: 'repo',
    config: c,
    secretEnvNames: [],
    offer: Offer.fromPartial({ backend: 'local' }),
    baseImage: null,
    publicKey: 'ssh-ed25519 AAAA',
    ideVersion: '',
    expectCode: true,
    home: '/h',
  });
}
const jobSpec =
  (field: keyof JobSpec): Effect =>
  ({ config }) =>
    spec(config)[field];

// files: the JobSpec's files as the daemon reads them for a configuration file in a folder holding
// data.txt (mode 0640): relative local paths start at the file's folder.
const filesDir = mkdtempSync(join(tmpdir(), 'coverage-files-'));
writeFileSync(join(filesDir, 'data.txt'), 'hello');
chmodSync(join(filesDir, 'data.txt'), 0o640);
const jobFiles: Effect = async ({ config }) =>
  (await readJobFiles(config, { path: join(filesDir, '.dstack.yml') }, '')).map((f) => ({
    path: f.path,
    mode: f.mode,
    content: Buffer.from(f.content).toString(),
  }));
const cloned = (p: Partial<JobSpec['repos'][number]>) => ({
  url: 'https://example.com/r.git',
  branch: '',
  hash: '',
  path: '/workflow',
  singleBranch: false,
  tokenEnv: '',
  skipIfExists: false,
  ...p,
});

// plan: the offers the planner picks from these, as backend/instance type. All fit the default
// resources; the default spot_policy (on-demand) leaves the spot one out.
const resources = { cpus: 4, cpuArch: 'x86', memoryGb: 16, diskGb: 200, gpus: [], spot: false };
const OFFERS: Offer[] = [
  { backend: 'local', region: 'local', instanceType: 'local', instanceName: 'local', fleet: '', price: 0, spot: false },
  { backend: 'ssh', region: 'fleet', instanceType: 'host-a', instanceName: 'host-a', fleet: 'my-fleet', price: 0, spot: false, cpus: 8 },
  { backend: 'aws', region: 'us-east-1', instanceType: 'm5.xlarge', instanceName: '', fleet: '', price: 0.2, spot: false },
  { backend: 'aws', region: 'eu-west-1', instanceType: 'c5.2xlarge', instanceName: '', fleet: '', price: 0.1, spot: true },
].map(({ cpus, ...o }) =>
  Offer.fromPartial({ ...o, availability: 'available', resources: { ...resources, cpus: cpus ?? 4, spot: o.spot } }),
);
const BACKENDS = ['local', 'ssh', 'aws'].map(
  (type) => ({ type, offers: async () => ({ offers: OFFERS.filter((o) => o.backend === type), reasons: [] }) }) as unknown as Backend,
);
const plan: Effect = async ({ config }) => (await planOffers(BACKENDS, config)).offers.map((o) => `${o.backend}/${o.instanceType}`);
const ALL_ON_DEMAND = ['ssh/host-a', 'local/local', 'aws/m5.xlarge'];

// daemon: the functions that read the key.
/** The run's name as GetPlan gives it (ApplyRun takes the same). */
const runName: Effect = async ({ text }) => {
  const deps = {
    store: { activeByName: () => undefined, stoppedByName: () => undefined },
    backends: [],
    config: {},
    log: {},
  } as unknown as RunServiceDeps;
  const req = GetPlanRequest.fromPartial({ configuration: { path: '.dstack.yml', text: `type: dev-environment\n${text}` }, noRepo: true });
  const p = await new RunService(deps).plan(req);
  return p.runName;
};
/** Which limit a run is past after two hours running, nobody connected for all of it. */
const limitAfterTwoHours: Effect = ({ config }) => {
  const row = { configuration: config, runningMs: 2 * 3600_000, runningSinceMs: 0 };
  const activity = {
    attached: 0,
    agent: { shellSessions: 0, execSessions: 0, sftpSessions: 0, portForwards: 0, inactiveSeconds: 0 },
    agentAtMs: 0,
  };
  return exceededLimit(row, activity, 2 * 3600_000)?.reason ?? 'none';
};
/** Whether a run whose container exited with an error a minute after submission is resubmitted. */
const retriedAfterError: Effect = ({ config }) => retriesAfter('container_exited_with_error', config.retry, 0, 60_000);
/** What becomes of the run's cloud instance when the run ends: kept idle, or terminated. */
const instanceAfterRun: Effect = async ({ config }) => {
  const row: RunRow = testRunRow({
    id: 'r',
    name: 'run',
    status: 'terminating',
    terminationReason: 'stopped_by_user',
    instanceKey: 'aws/i-1',
  });
  row.configuration = config;
  const record = { instanceId: 'i-1', name: 'i-1', backend: 'aws', region: 'us-east-1', price: 0.2, reusable: false } as InstanceRecord;
  let status: InstanceStatus | undefined;
  const live = { activity: { attached: 0 }, cleanupFailures: 0 };
  const deps = {
    book: {
      liveOf: () => live,
      instanceOf: () => record,
      configOf: (r: RunRow) => r.configuration,
      backend: () => ({ keepsIdle: true, release: async () => {} }),
      move: (_id: string, to: string) => ({ ...row, status: to }),
      say: () => {},
      notice: () => {},
    },
    store: { get: () => row, unfinished: () => [row] },
    instances: {
      upsert: (_r: InstanceRecord, s: InstanceStatus) => (status = s),
      setStatus: (_k: string, s: InstanceStatus) => (status = s),
    },
    agents: { disconnect: async () => {} },
    ssh: { remove: () => false },
    log: { info: () => {}, warn: (m: string, e: unknown) => console.error(m, e) },
    loss: { isLost: () => false },
    logGap: { fill: async () => {} },
  } as unknown as EndingDeps;
  await new Ending(deps).start('r', false);
  return status;
};

// cli: what the CLI gets in the Run view (daemon.proto RunConfiguration) and acts on.
const runView =
  (field: 'ports'): Effect =>
  ({ config }) =>
    runConfigurationView(config)[field];

interface Reaches {
  to: 'job-spec' | 'plan' | 'daemon' | 'cli';
  /** Lines that set the key to something other than its default. */
  set: string;
  /** Lines both files have (what the key needs beside it). */
  base?: string;
  effect: Effect;
  /** The effect without the key, then with it: they must differ. */
  outcome: [unknown, unknown];
}
/** Accepted with dstack's deprecation warning, and no effect (as in dstack). */
interface NoEffect {
  to: 'deprecated-no-effect';
  set: string;
}
interface Refused {
  to: 'refused';
  /** Lines that set the key as a dstack file would. */
  set: string;
}
type Row = Reaches | NoEffect | Refused;

const reaches = (to: Reaches['to'], set: string, effect: Effect, outcome: [unknown, unknown], base?: string): Reaches => ({
  to,
  set,
  effect,
  outcome,
  base,
});
const refused = (set: string): Refused => ({ to: 'refused', set });

const otherPython = defaultPython() === '3.9' ? '3.10' : '3.9';
const defaultImage = () => defaultBaseImage(defaultPython(), false);
const systemEnv = { DSTACK_RUN_NAME: 'run', DSTACK_REPO_ID: 'repo', DSTACK_GPUS_NUM: '0' };
const noLimits = { inactivityDurationSeconds: 0, maxRunningSeconds: 0, utilizationPolicy: undefined };

/** One row per key: where it goes, and what shows it got there. */
const COVERAGE: Record<string, Row> = {
  name: reaches('daemon', 'name: my-dev', runName, [expect.not.stringMatching(/^my-dev$/), 'my-dev']),
  image: reaches('job-spec', 'image: ubuntu:24.04', jobSpec('image'), [defaultImage(), 'ubuntu:24.04']),
  python: reaches('job-spec', `python: "${otherPython}"`, jobSpec('image'), [defaultImage(), defaultBaseImage(otherPython, false)]),
  nvcc: reaches('job-spec', 'nvcc: true', jobSpec('image'), [defaultImage(), defaultBaseImage(defaultPython(), true)]),
  privileged: reaches('job-spec', 'privileged: true', jobSpec('privileged'), [false, true]),
  docker: reaches('job-spec', 'docker: true', jobSpec('docker'), [false, true]),
  ide: reaches('job-spec', 'ide: vscode', jobSpec('ide'), [
    { name: '', version: '' },
    { name: 'vscode', version: '' },
  ]),
  version: reaches(
    'job-spec',
    'version: abc123',
    jobSpec('ide'),
    [
      { name: 'vscode', version: '' },
      { name: 'vscode', version: 'abc123' },
    ],
    'ide: vscode',
  ),
  init: reaches('job-spec', 'init: [echo hi]', jobSpec('init'), [[], ['echo hi']]),
  setup: reaches('job-spec', 'setup: [echo first]', jobSpec('init'), [['echo hi'], ['echo first', 'echo hi']], 'init: [echo hi]'),
  env: reaches('job-spec', 'env: [A=1]', jobSpec('env'), [systemEnv, { A: '1', ...systemEnv }]),
  registry_auth: reaches('job-spec', 'registry_auth: {username: u, password: p}', jobSpec('registryAuth'), [
    undefined,
    { username: 'u', password: 'p' },
  ]),
  working_dir: reaches('job-spec', 'working_dir: /src', jobSpec('workingDir'), ['', '/src']),
  home_dir: { to: 'deprecated-no-effect', set: 'home_dir: /home/me' },
  user: reaches('job-spec', 'user: dev', jobSpec('user'), ['', 'dev']),
  shell: reaches('job-spec', 'shell: bash', jobSpec('shell'), ['', 'bash']),
  ports: reaches('cli', 'ports: ["8888:8080"]', runView('ports'), [[], [{ localPort: 8888, containerPort: 8080 }]]),
  volumes: reaches('job-spec', 'volumes: [/mnt/cache:/cache]', jobSpec('mounts'), [
    [],
    [{ source: '/mnt/cache', target: '/cache', readOnly: false, optional: false }],
  ]),
  resources: reaches('plan', 'resources: {cpu: 8..}', plan, [ALL_ON_DEMAND, ['ssh/host-a']]),
  spot_policy: reaches('plan', 'spot_policy: spot', plan, [ALL_ON_DEMAND, ['aws/c5.2xlarge']]),
  retry: reaches('daemon', 'retry: {on_events: [error], duration: 1h}', retriedAfterError, [false, true]),
  max_duration: reaches('daemon', 'max_duration: 1h', limitAfterTwoHours, ['none', 'max_duration_exceeded']),
  inactivity_duration: reaches('daemon', 'inactivity_duration: 30m', limitAfterTwoHours, ['none', 'inactivity_duration_exceeded']),
  idle_duration: reaches('daemon', 'idle_duration: 10m', instanceAfterRun, ['terminated', 'idle']),
  utilization_policy: reaches('job-spec', 'utilization_policy: {min_gpu_utilization: 10, time_window: 1h}', jobSpec('limits'), [
    noLimits,
    { ...noLimits, utilizationPolicy: { minGpuUtilization: 10, timeWindowSeconds: 3600 } },
  ]),
  max_price: reaches('plan', 'max_price: 0.15', plan, [ALL_ON_DEMAND, ['ssh/host-a', 'local/local']]),
  backends: reaches('plan', 'backends: [aws]', plan, [ALL_ON_DEMAND, ['aws/m5.xlarge']]),
  regions: reaches('plan', 'regions: [us-east-1]', plan, [ALL_ON_DEMAND, ['aws/m5.xlarge']]),
  instance_types: reaches('plan', 'instance_types: [local]', plan, [ALL_ON_DEMAND, ['local/local']]),
  creation_policy: reaches('plan', 'creation_policy: reuse', plan, [ALL_ON_DEMAND, ['ssh/host-a', 'local/local']]),
  fleets: reaches('plan', 'fleets: [my-fleet]', plan, [ALL_ON_DEMAND, ['ssh/host-a']]),

  files: reaches('job-spec', 'files: [data.txt:/opt/data.txt]', jobFiles, [[], [{ path: '/opt/data.txt', mode: 0o640, content: 'hello' }]]),
  repos: reaches('job-spec', 'repos: ["https://example.com/r.git:/src"]', jobSpec('repos'), [[], [cloned({ path: '/src' })]]),
  single_branch: reaches(
    'job-spec',
    'single_branch: true',
    jobSpec('repos'),
    [[cloned({ branch: 'dev' })], [cloned({ branch: 'dev', singleBranch: true })]],
    'repos: [{url: "https://example.com/r.git", branch: dev}]',
  ),
  entrypoint: refused('entrypoint: bash'),
  commands: refused('commands: [echo hi]'),
  priority: refused('priority: 10'),
  stop_duration: refused('stop_duration: 5m'),
  availability_zones: refused('availability_zones: [us-east-1a]'),
  reservation: refused('reservation: my-reservation'),
};

describe('every dev-environment key goes somewhere', () => {
  it('has one row per key of the field table and of the refused list', () => {
    const keys = [...Object.keys(DEV_ENVIRONMENT_FIELDS), ...Object.keys(DEV_ENVIRONMENT_UNSUPPORTED)].sort();
    expect(Object.keys(COVERAGE).sort()).toEqual(keys);
    const isRefused = Object.keys(COVERAGE).filter((k) => COVERAGE[k].to === 'refused');
    expect(isRefused.sort()).toEqual(Object.keys(DEV_ENVIRONMENT_UNSUPPORTED).sort());
  });

  const rows = Object.entries(COVERAGE);
  it.each(rows.filter((r): r is [string, Reaches] => r[1].to !== 'refused' && r[1].to !== 'deprecated-no-effect'))(
    '%s reaches its destination',
    async (key, row) => {
      const base = row.base ? `${row.base}\n` : '';
      const files = [base, `${base}${row.set}\n`].map((text) => ({ text, config: config(text) }));
      expect(files[1].config[key as keyof Config], 'the key is set to something other than its default').not.toEqual(
        files[0].config[key as keyof Config],
      );
      const [without, withKey] = [await row.effect(files[0]), await row.effect(files[1])];
      expect([without, withKey], `${key} → ${row.to}`).toEqual(row.outcome);
      expect(withKey, `${key} changes what the ${row.to} gets`).not.toEqual(without);
    },
  );

  it.each(rows.filter((r): r is [string, Refused] => r[1].to === 'refused'))('%s is refused, saying why', (key, row) => {
    const r = parse(`${row.set}\n`);
    expect(r.ok).toBe(false);
    const messages = r.ok ? [] : r.errors.map((e) => e.message);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain(`\`${key}\``);
    expect(messages[0]).toContain(DEV_ENVIRONMENT_UNSUPPORTED[key]);
  });

  it.each(rows.filter((r): r is [string, NoEffect] => r[1].to === 'deprecated-no-effect'))(
    '%s is accepted with a warning that says it has no effect, and changes nothing',
    (key, row) => {
      const r = parse(`${row.set}\n`);
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      expect((r.warnings ?? []).map((w) => w.message)).toEqual([DEV_ENVIRONMENT_DEPRECATED[key]]);
      expect(DEV_ENVIRONMENT_DEPRECATED[key]).toMatch(/no effect/);
      const without = config('');
      expect(spec(r.config as Config)).toEqual(spec(without));
      expect(runConfigurationView(r.config as Config)).toEqual(runConfigurationView(without));
    },
  );

  it.each(Object.keys(DEV_ENVIRONMENT_DEPRECATED))('deprecated %s warns with its line', (key) => {
    const r = parse(`${COVERAGE[key].set}\n`);
    expect(r.ok && (r.warnings ?? []).map((w) => w.message)).toEqual([DEV_ENVIRONMENT_DEPRECATED[key]]);
  });
});
