// dstack offer [--gpu ...] [--json] [--group-by gpu]: what the configured backends offer for a
// resource spec, as the plan's table, or aggregated per GPU model.
import type { Command } from 'commander';
import { connect } from '../daemon/client';
import { configurationSource, reportConfigurationErrors } from '../config/configuration';
import { UsageError } from '../errors';
import { gpuGroupsTable, groupByGpu, offersTable } from '../run/offers-table';
import { printJson } from '../ui/output';
import { addOverrideOptions, collectList, overridesOf, parseCount, type OverrideFlags } from '../config/overrides';
import { spinner } from '../ui/progress';

interface OfferOptions extends OverrideFlags {
  json?: boolean;
  groupBy?: string[];
  maxOffers?: number;
}

export function register(program: Command): void {
  const cmd = program
    .command('offer')
    .description('List the offers that fit a resource spec (all backends, spot and on-demand unless told)');
  addOverrideOptions(cmd, 'both spot and on-demand (the default here)')
    .option('--group-by <FIELD>', 'aggregate by GPU model: gpu, and split by backend and/or region (gpu,backend,region)', collectList, [])
    .option('--max-offers <N>', 'how many offers to list (default 50)', parseCount)
    .option('--json', 'print the offers as one JSON object')
    .action(async (opts: OfferOptions) => {
      const groupBy = opts.groupBy ?? [];
      const bad = groupBy.filter((g) => !['gpu', 'backend', 'region'].includes(g));
      if (bad.length) throw new UsageError(`--group-by ${bad.join(',')}: expected gpu, backend or region`);
      // As dstack: backend and region split the GPU groups, so gpu comes with them.
      if (groupBy.length && !groupBy.includes('gpu'))
        throw new UsageError(`--group-by ${groupBy.join(',')}: add gpu (backend and region split the GPU groups)`);
      const by = { backend: groupBy.includes('backend'), region: groupBy.includes('region') };
      // A dev environment with every default, both spot and on-demand: the flags fill in its resources.
      const configuration = configurationSource('<flags>', 'type: dev-environment\n', { overrides: overridesOf(opts, 'auto') });
      const daemon = await connect();
      try {
        const spin = opts.json ? undefined : spinner('Getting offers...', { delayMs: 300 });
        const resp = await daemon
          .listOffers({ configuration, maxOffers: opts.maxOffers ?? 50 })
          .catch((err: unknown) => {
            throw reportConfigurationErrors(err);
          })
          .finally(() => spin?.stop());
        if (groupBy.length) {
          const groups = groupByGpu(resp.offers, by);
          if (opts.json) printJson({ group_by: groupBy, gpus: groups });
          else if (groups.length) process.stdout.write(gpuGroupsTable(groups, by));
          else process.stdout.write('No offers with GPUs fit\n');
          return;
        }
        if (opts.json) {
          const { ListOffersResponse } = await import('@dstack/core/gen/daemon');
          printJson(ListOffersResponse.toJSON(resp));
          return;
        }
        if (!resp.offers.length) {
          const reasons = resp.noOfferReasons.length ? `: ${resp.noOfferReasons.join('; ')}` : '';
          process.stdout.write(`No offers fit${reasons}\n`);
          return;
        }
        process.stdout.write(offersTable(resp.offers, resp.totalOffers));
        for (const line of resp.backendErrors) process.stdout.write(`Left out: ${line}\n`);
      } finally {
        daemon.close();
      }
    });
}
