// dstack metrics NAME [-w] [--json]: the run's CPU, memory and GPU use over the last hour, as
// dstack's `metrics` prints it (run/metrics-table.ts), or the samples as JSON.
import type { Command } from 'commander';
import { connect } from '../daemon/client';
import { printJson } from '../ui/output';
import { metricsTable } from '../run/metrics-table';
import { watch } from '../ui/watch';

interface MetricsOptions {
  watch?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('metrics')
    .description("Show a run's CPU, memory and GPU use (the last hour)")
    .argument('<name>', 'the run')
    .option('-w, --watch', 'redraw with each new sample until Ctrl+C')
    .option('--json', 'print the samples as one JSON object')
    .action(async (name: string, opts: MetricsOptions) => {
      const daemon = await connect();
      try {
        if (opts.json) {
          const { GetMetricsResponse } = await import('@dstack/core/gen/daemon');
          printJson(GetMetricsResponse.toJSON(await daemon.getMetrics(name)));
          return;
        }
        const draw = async () => {
          const m = await daemon.getMetrics(name);
          return { text: metricsTable(m, { columns: process.stdout.columns }), everyMs: Math.max(2, m.intervalSeconds || 5) * 1000 };
        };
        if (!opts.watch) {
          process.stdout.write((await draw()).text);
          return;
        }
        await watch(draw);
      } finally {
        daemon.close();
      }
    });
}
