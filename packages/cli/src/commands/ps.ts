// dstack ps [-a] [-n N] [-v] [--json] [-w]: the runs, as a table or as JSON.
import type { Command } from 'commander';
import type { ListRunsResponse } from '@dstack/core/gen/daemon';
import { billingNotes } from '@dstack/core/cloud-types';
import { connect, type Daemon } from '../daemon/client';
import { parseCount } from '../config/overrides';
import { printJson } from '../ui/output';
import { runsTable } from '../run/runs-table';
import { watch } from '../ui/watch';

interface PsOptions {
  all?: boolean;
  verbose?: boolean;
  json?: boolean;
  watch?: boolean;
  last?: number;
}

/** The runs to show: active ones, or all with -a; with -n only the last N submitted (finished too, as dstack). */
async function listRuns(daemon: Daemon, opts: PsOptions): Promise<ListRunsResponse> {
  const resp = await daemon.listRuns(Boolean(opts.all) || opts.last !== undefined);
  // The daemon lists the newest first.
  return opts.last === undefined ? resp : { ...resp, runs: resp.runs.slice(0, opts.last) };
}

export function register(program: Command): void {
  program
    .command('ps')
    .description('List runs: active ones, or all with -a')
    .option('-a, --all', 'show finished runs too')
    .option('-n, --last <N>', 'only the last N runs submitted, finished ones too', parseCount)
    .option('-v, --verbose', 'show more: wrapped resources, inactivity, why a run ended')
    .option('-w, --watch', 'refresh every 2 seconds until Ctrl+C')
    .option('--json', 'print the runs as one JSON object')
    .action(async (opts: PsOptions) => {
      const daemon = await connect();
      try {
        if (opts.json) {
          const { ListRunsResponse } = await import('@dstack/core/gen/daemon');
          printJson(ListRunsResponse.toJSON(await listRuns(daemon, opts)));
          return;
        }
        if (!opts.watch) {
          process.stdout.write(render(await listRuns(daemon, opts), opts));
          return;
        }
        await watch(async () => ({ text: render(await listRuns(daemon, opts), opts), everyMs: 2000 }));
      } finally {
        daemon.close();
      }
    });
}

function render(resp: ListRunsResponse, opts: PsOptions): string {
  const notes = billingNotes(resp.runs);
  return runsTable(resp.runs, { verbose: opts.verbose }) + (notes.length ? `\n${notes.join('\n')}\n` : '');
}
