// Docker-in-Docker (`docker: true`, JobSpec.docker): the daemon asks for a privileged container of the
// DinD image; before init the agent starts a Docker daemon inside it and waits until it answers, as
// dstack's `start-dockerd` does at the head of the job's commands. dstack's DinD image brings
// `start-dockerd`, which is run as it is; any other image with `dockerd` gets it started here (in
// the background, its log in /var/log/dockerd.log, its settings from the image's
// /etc/docker/daemon.json), after moby's dind step for cgroup v2 where the container has its own
// cgroup namespace. An image with neither fails the job. Idempotent: a daemon that already answers
// (an agent restart during init) is left as it is.
import { JobError, type OutputStream, type Runtime, type RuntimeJob } from '../runtime/runtime';

/** How long dockerd may take to answer (a first start on a slow disk sets up its data root). */
export const DOCKERD_WAIT_SECONDS = 60;

/** Exit codes of the script that the agent tells apart. */
const NO_DOCKERD = 69;
const DOCKERD_EXITED = 70;
const NO_ANSWER = 71;

/** The script, run as root in the container; its output goes to the job's log. */
export function dockerdScript(waitSeconds = DOCKERD_WAIT_SECONDS): string {
  return `
answers() {
  if command -v docker >/dev/null 2>&1; then docker version >/dev/null 2>&1; else [ -S /var/run/docker.sock ]; fi
}
if answers; then echo "dockerd is already running"; exit 0; fi
pid=""
if command -v start-dockerd >/dev/null 2>&1; then
  echo "starting dockerd (start-dockerd)"
  start-dockerd || exit $?
elif command -v dockerd >/dev/null 2>&1; then
  # moby's dind step: on cgroup v2 in a cgroup namespace of its own, processes leave the root cgroup
  # so that dockerd can enable the controllers for its containers.
  if [ -f /sys/fs/cgroup/cgroup.controllers ] && [ "$(cat /proc/self/cgroup)" = "0::/" ]; then
    mkdir -p /sys/fs/cgroup/init
    xargs -rn1 < /sys/fs/cgroup/cgroup.procs > /sys/fs/cgroup/init/cgroup.procs 2>/dev/null || :
    sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || :
  fi
  echo "starting dockerd (log: /var/log/dockerd.log)"
  mkdir -p /var/log
  dockerd > /var/log/dockerd.log 2>&1 < /dev/null &
  pid=$!
else
  exit ${NO_DOCKERD}
fi
i=0
while [ "$i" -lt ${waitSeconds} ]; do
  if answers; then echo "dockerd is up"; exit 0; fi
  if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then tail -n 20 /var/log/dockerd.log >&2; exit ${DOCKERD_EXITED}; fi
  sleep 1
  i=$((i + 1))
done
[ -n "$pid" ] && tail -n 20 /var/log/dockerd.log >&2
exit ${NO_ANSWER}
`;
}

/** Starts the job's dockerd (see the top of this file); a JobError when it cannot. */
export async function startDockerd(
  runtime: Runtime,
  job: RuntimeJob,
  output: (stream: OutputStream, data: Buffer) => void,
  signal: AbortSignal,
): Promise<void> {
  if (!job.spec.docker) return;
  if (runtime.kind !== 'docker') throw new JobError('container_error', 'docker: true runs in a container: this job runs on the host');
  job.note('docker: true: starting the Docker daemon in the container');
  const code = await runtime.exec(job, dockerdScript(), output, { user: '0', signal });
  if (signal.aborted) return;
  const image = job.spec.image;
  switch (code) {
    case 0:
      return;
    case NO_DOCKERD:
      throw new JobError(
        'container_error',
        `docker: true: the image ${image} has no dockerd (nor dstack's start-dockerd): use a Docker-in-Docker image (config.yml's dind_image)`,
      );
    case DOCKERD_EXITED:
      throw new JobError('init_failed', `docker: true: dockerd exited at start (its last lines are in the log above)`, code);
    case NO_ANSWER:
      throw new JobError('init_failed', `docker: true: dockerd did not answer within ${DOCKERD_WAIT_SECONDS} s`, code);
    default:
      throw new JobError('init_failed', `docker: true: start-dockerd failed with exit code ${code}`, code);
  }
}
