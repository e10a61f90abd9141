// dstack volume [list] [-v] [--json] | delete NAME [-y], and `dstack apply -f` of a `type: volume`
// file (applyVolume): network volumes the daemon makes at a backend that has them (RunPod, Lambda),
// or registers by volume_id. The daemon parses the file; the CLI sends it as written.
import type { Command } from 'commander';
import type { Volume } from '@dstack/core/gen/daemon';
import { configurationSource } from '../config/configuration';
import { connect } from '../daemon/client';
import type { ApplyOptions } from '../run/apply-run';
import { printJson } from '../ui/output';
import { confirm } from '../ui/prompt';
import { renderTable } from '../ui/table';
import { prettyDate } from '../ui/time-format';

/** dstack's columns (NAME, BACKEND, STATUS, CREATED; -v adds ERROR), plus what runs it is attached to. */
function volumesTable(volumes: Volume[], verbose: boolean): string {
  const headers = ['NAME', 'BACKEND', 'STATUS', 'CREATED', 'ATTACHED', ...(verbose ? ['ERROR'] : [])];
  return renderTable(
    headers,
    volumes.map((v) => [
      v.name,
      `${v.backend}${v.region ? ` (${v.region})` : ''}`,
      v.status,
      prettyDate(Number(v.createdMs)) || new Date(Number(v.createdMs)).toISOString(),
      v.attachedTo.join(', ') || '-',
      ...(verbose ? [v.statusMessage] : []),
    ]),
  );
}

async function volumeJson(v: Volume[] | Volume): Promise<unknown> {
  const { Volume: codec } = await import('@dstack/core/gen/daemon');
  return Array.isArray(v) ? { volumes: v.map((x) => codec.toJSON(x)) } : codec.toJSON(v);
}

/** `dstack apply -f FILE` of a `type: volume` file: makes or registers the volume, once. */
export async function applyVolume(file: string, text: string, opts: ApplyOptions): Promise<void> {
  const out = opts.json ? process.stderr : process.stdout;
  if (!(await confirm(`Apply the volume configuration ${file}?`, { yes: opts.yes }))) {
    out.write('Cancelled\n');
    return;
  }
  const daemon = await connect();
  try {
    const v = await daemon.applyVolume({ configuration: configurationSource(file, text) });
    if (opts.json) printJson(await volumeJson(v));
    else out.write(`${volumesTable([v], false)}\n`);
  } finally {
    daemon.close();
  }
}

export function register(program: Command): void {
  const cmd = program.command('volume').description('Manage network volumes: made with `dstack apply -f` of a `type: volume` file');
  cmd
    .command('list', { isDefault: true })
    .description('The volumes: backend and region, status, and the runs they are attached to')
    .option('-v, --verbose', 'show why a volume failed')
    .option('--json', 'print one JSON object')
    .action(async (opts: { verbose?: boolean; json?: boolean }) => {
      const daemon = await connect();
      try {
        const { volumes } = await daemon.listVolumes();
        if (opts.json) printJson(await volumeJson(volumes));
        else if (!volumes.length) process.stdout.write('No volumes. Make one: dstack apply -f volume.dstack.yml (type: volume)\n');
        else process.stdout.write(volumesTable(volumes, !!opts.verbose));
      } finally {
        daemon.close();
      }
    });
  cmd
    .command('delete')
    .description('Delete a volume at its provider (a registered one, `volume_id`, is only forgotten); refused while a run uses it')
    .argument('<name>', 'the volume')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name: string, opts: { yes?: boolean }) => {
      if (!(await confirm(`Delete the volume ${name}?`, { yes: opts.yes }))) {
        process.stdout.write('Cancelled\n');
        return;
      }
      const daemon = await connect();
      try {
        await daemon.deleteVolume(name);
        process.stdout.write(`Volume ${name} deleted\n`);
      } finally {
        daemon.close();
      }
    });
}
