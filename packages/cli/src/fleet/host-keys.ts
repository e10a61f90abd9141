// The host keys a fleet apply would meet that nothing trusts yet (no host_key pin, not in
// $DSTACK_HOME/ssh/fleet_known_hosts or ~/.ssh/known_hosts): shown with OpenSSH's fingerprint and
// asked about, as OpenSSH asks, before anything is changed. `-y` accepts them and says which; without
// a terminal and without -y it is a question that cannot be asked (exit 2); a key turned down ends
// the apply with nothing changed. A host behind a jump host is scanned once the jump host's key is
// accepted, so the questions may come in two rounds.
import type { Writable } from 'node:stream';
import type { HostKeyEntry, ScanHostKeysResponse, UnknownHostKey } from '@dstack/core/gen/daemon';
import { UsageError, UserError } from '../errors';
import { canPrompt, confirm, type PromptIO } from '../ui/prompt';

export type Scan = (accepted: HostKeyEntry[]) => Promise<ScanHostKeysResponse>;

const role = (u: UnknownHostKey) => (u.jump ? 'jump host' : 'host');
const keyLine = (u: UnknownHostKey) => `${u.keyType} key fingerprint is ${u.fingerprint}`;

/** Asks about every unknown key; the ones accepted, for ApplyFleetRequest.accepted_host_keys. */
export async function acceptHostKeys(scan: Scan, opts: { yes?: boolean; io?: PromptIO; stderr?: Writable } = {}): Promise<HostKeyEntry[]> {
  const stderr = opts.stderr ?? process.stderr;
  const accepted: HostKeyEntry[] = [];
  // Each round can only add the hosts behind a jump host accepted in the round before.
  for (let round = 0; round < 3; round++) {
    const res = await scan(accepted);
    if (!res.unknown.length) break;
    if (!opts.yes && !canPrompt(opts.io)) {
      const which = res.unknown.map((u) => `${role(u)} ${u.host} (${keyLine(u)})`).join('; ');
      throw new UsageError(
        `the authenticity of ${which} can't be established: run \`dstack apply\` on a terminal to be asked, ` +
          'pass -y to accept, or pin the key with `host_key:` in the fleet file',
      );
    }
    for (const u of res.unknown) {
      if (opts.yes) {
        stderr.write(`Accepted (-y) the host key of ${role(u)} ${u.host}: ${keyLine(u)}\n`);
      } else {
        const io = opts.io ?? { input: process.stdin, output: stderr };
        io.output.write(`The authenticity of ${role(u)} '${u.host}' can't be established.\n${keyLine(u)}.\n`);
        if (!(await confirm('Are you sure you want to continue connecting?', { io }))) {
          throw new UserError(`the host key of ${role(u)} ${u.host} was not accepted (${keyLine(u)}): nothing was changed`);
        }
      }
      accepted.push(u.key!);
    }
    if (!res.waiting.length) break;
  }
  return accepted;
}
