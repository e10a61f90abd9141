// dstack ps [-a] [-v] [--json] [-w]: the runs, as a table or as JSON.
import type { Command } from 'commander';
import type { ListRunsResponse } from '@dstack/core/gen/daemon';
import { billingNotes } from '@dstack/core/cloud-types';
import { connect } from '../daemon/client';
import { printJson } from '../ui/output';
import { runsTable } from '../run/runs-table';

interface PsOptions {
  all?: boolean;
  verbose?: boolean;
  json?: boolean;
  watch?: boolean;
}

export function register(program: Command): void {
  program
    .command('ps')
    .description('List runs: active ones, or all with -a')
    .option('-a, --all', 'show finished runs too')
    .option('-v, --verbose', 'show more: wrapped resources, inactivity, why a run ended')
    .option('-w, --watch', 'refresh every 2 seconds until Ctrl+C')
    .option('--json', 'print the runs as one JSON object')
    .action(async (opts: PsOptions) => {
      const daemon = await connect();
      try {
        if (opts.json) {
          const { ListRunsResponse } = await import('@dstack/core/gen/daemon');
          printJson(ListRunsResponse.toJSON(await daemon.listRuns(Boolean(opts.all))));
          return;
        }
        if (!opts.watch) {
          process.stdout.write(render(await daemon.listRuns(Boolean(opts.all)), opts));
          return;
        }
        await watch(async () => render(await daemon.listRuns(Boolean(opts.all)), opts));
      } finally {
        daemon.close();
      }
    });
}

function render(resp: ListRunsResponse, opts: PsOptions): string {
  const notes = billingNotes(resp.runs);
  return runsTable(resp.runs, { verbose: opts.verbose }) + (notes.length ? `\n${notes.join('\n')}\n` : '');
}

/** Redraws the table in place on a terminal (plain repeats elsewhere) until Ctrl+C. */
async function watch(draw: () => Promise<string>): Promise<void> {
  const tty = process.stdout.isTTY;
  let stop = false;
  const onInt = () => {
    stop = true;
  };
  process.once('SIGINT', onInt);
  let lines = 0;
  try {
    while (!stop) {
      const text = await draw();
      if (tty) {
        if (lines) process.stdout.write(`\x1b[${lines}A\x1b[J`);
        lines = text.split('\n').length - 1;
        process.stdout.write(text);
      } else {
        process.stdout.write(`${text}\n`);
      }
      for (let i = 0; i < 20 && !stop; i++) await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    process.off('SIGINT', onInt);
  }
}
