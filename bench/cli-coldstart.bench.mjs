// CLI cold start: `dstack validate` (reads, parses and validates a file: loads commander, yaml and
// zod) next to `node -e 0` measured in the same run. Goal: at most 4× a bare node start. Also prints
// what each heavy dependency costs to load, to see where the time goes.
import { join } from 'node:path';
import { report, root, sh, timeMedian } from './lib.mjs';

const cli = join(root, 'dist/cli.cjs');
const example = join(root, 'examples/gpu.dstack.yml');
const run = (args) => () => sh(process.execPath, args, { cwd: root });

export default async function coldstart() {
  sh(process.execPath, [cli, 'validate', '-f', example]); // fails loudly if the build is missing or broken
  const n = 15;
  const baseline = await timeMedian(run(['-e', '0']), { n });
  const validate = await timeMedian(run([cli, 'validate', '-f', example]), { n });
  report({ name: 'dstack validate -f examples/gpu.dstack.yml', value: validate, baseline, baselineName: 'node -e 0', goal: 4 });
  const help = await timeMedian(run([cli, '--help']), { n });
  report({ name: 'dstack --help', value: help, baseline, baselineName: 'node -e 0' });
  for (const mod of ['commander', 'yaml', 'zod']) {
    const t = await timeMedian(run(['-e', `require(${JSON.stringify(mod)})`]), { n });
    report({ name: `node -e "require('${mod}')"`, value: t, baseline, baselineName: 'node -e 0' });
  }
}
