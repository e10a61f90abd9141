// The command a container cloud's instance starts with, in place of the image's own: on the user's
// image it gets an OpenSSH sshd answering the daemon's key, and then waits as the container's PID 1
// while the daemon deploys the agent over SSH (the same path fleets use). It asks little of the image:
// /bin/sh, and either an sshd or a package manager to install one (apt-get, dnf, microdnf, yum,
// apk, zypper), as dstack's own bootstrap does. An image that has neither ends at once with one line
// saying so, which the provider shows as the container's status and the daemon repeats.
//
// SIGTERM (the agent's, when a job ends at its limit with no daemon watching) ends the container, so
// the instance stops billing GPU time where the provider stops a container that exits.
import { shellWord } from '@dstack/core/quoting';

/** Where sshd listens inside the container; the provider maps it to a public port (dstack's own choice). */
export const CONTAINER_SSH_PORT = 10022;

/** Exit status of a bootstrap that cannot get an sshd: EX_CONFIG, the image's configuration. */
export const BOOTSTRAP_NO_SSHD_EXIT = 78;

/** What the README and the errors say an image needs. */
export const IMAGE_NEEDS =
  'an image for a container cloud needs /bin/sh and either OpenSSH sshd or a package manager to install it (apt-get, dnf, microdnf, yum, apk, zypper)';

/**
 * Finds the image's sshd, or installs OpenSSH with the image's package manager; ends the script with
 * BOOTSTRAP_NO_SSHD_EXIT and one line when it can do neither. Sets SSHD. Needs log() and fail().
 */
export function sshdInstall(): string {
  return `find_sshd() { command -v sshd 2>/dev/null || { [ -x /usr/sbin/sshd ] && echo /usr/sbin/sshd; } || true; }
SSHD=$(find_sshd)
if [ -z "$SSHD" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    log "installing openssh-server with apt-get"
    DEBIAN_FRONTEND=noninteractive; export DEBIAN_FRONTEND
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends openssh-server >/dev/null
  elif command -v dnf >/dev/null 2>&1; then log "installing openssh-server with dnf"; dnf install -y -q openssh-server >/dev/null
  elif command -v microdnf >/dev/null 2>&1; then log "installing openssh-server with microdnf"; microdnf install -y openssh-server >/dev/null
  elif command -v yum >/dev/null 2>&1; then log "installing openssh-server with yum"; yum install -y -q openssh-server >/dev/null
  elif command -v apk >/dev/null 2>&1; then log "installing openssh-server with apk"; apk add --no-cache -q openssh-server >/dev/null
  elif command -v zypper >/dev/null 2>&1; then log "installing openssh with zypper"; zypper --non-interactive -q install openssh >/dev/null
  else fail "the image has no sshd and no package manager to install it: ${IMAGE_NEEDS}"
  fi || fail "installing openssh-server failed (the package manager's messages are above)"
  SSHD=$(find_sshd)
  [ -n "$SSHD" ] || fail "openssh-server was installed but no sshd was found"
fi
`;
}

export function containerBootstrap(opts: { publicKey: string; sshPort?: number }): string {
  const port = opts.sshPort ?? CONTAINER_SSH_PORT;
  const dir = '/run/dstack-sshd';
  return `set -u
log() { echo "dstack bootstrap: $*"; }
fail() { echo "dstack bootstrap: $*" >&2; printf '%s\\n' "$*" >/dev/termination-log 2>/dev/null; exit ${BOOTSTRAP_NO_SSHD_EXIT}; }
${sshdInstall()}umask 077
mkdir -p ${dir} /run/sshd /root
printf '%s\\n' ${shellWord(opts.publicKey.trim())} > ${dir}/authorized_keys
[ -f ${dir}/host_key ] || ssh-keygen -q -t ed25519 -N '' -f ${dir}/host_key >/dev/null || fail "ssh-keygen could not make a host key"
cat > ${dir}/sshd_config <<'EOF'
Port ${port}
HostKey ${dir}/host_key
AuthorizedKeysFile ${dir}/authorized_keys
PidFile ${dir}/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
ChallengeResponseAuthentication no
StrictModes no
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
Subsystem sftp internal-sftp
EOF
umask 022
# sshd without PAM refuses a locked account ("!" in /etc/shadow, Alpine's root) even for keys.
[ -w /etc/shadow ] && sed -i 's/^root:!/root:*/' /etc/shadow 2>/dev/null
"$SSHD" -f ${dir}/sshd_config -E ${dir}/sshd.log || fail "sshd did not start: $(tail -n 3 ${dir}/sshd.log 2>/dev/null | tr '\\n' ' ')"
log "sshd answers on port ${port}"
trap 'log "ending the container"; exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
`;
}
