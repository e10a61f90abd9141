#!/bin/sh
# Installs the system parts the end-to-end suites start (Debian 12, as root): a Docker engine, a
# registry, debootstrap for the test image, OpenSSH server and clients, rsync, iproute2 for network
# namespaces, a static busybox, Slurm (slurmctld, slurmd, the client tools) and munge for the test
# cluster (test/clusters). Skips the install when everything is already there.
set -eu
need=""
for pair in dockerd:docker.io debootstrap:debootstrap sshd:openssh-server ssh:openssh-client rsync:rsync \
            docker-registry:docker-registry htpasswd:apache2-utils ip:iproute2 git:git \
            slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge; do
  bin=${pair%%:*}; pkg=${pair#*:}
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || need="$need $pkg"
done
file /bin/busybox 2>/dev/null | grep -q 'statically linked' || need="$need busybox-static"
if [ -n "$need" ]; then
  echo "installing:$need"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $need file
fi
