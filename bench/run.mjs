// npm run bench: runs every bench/*.bench.mjs (or the ones named on the command line) in name order.
// Each prints its measurements next to a baseline measured in the same run. --json writes all rows
// to bench/results.json as well.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { results, root } from './lib.mjs';

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const files = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.bench.mjs'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort();
let failed = 0;
for (const file of files) {
  console.log(`\n== ${file.replace('.bench.mjs', '')}`);
  try {
    const mod = await import(pathToFileURL(join(root, 'bench', file)).href);
    await mod.default();
  } catch (err) {
    failed++;
    console.log(`FAILED: ${err instanceof Error ? err.message : err}`);
  }
}
if (process.argv.includes('--json')) writeFileSync(join(root, 'bench/results.json'), JSON.stringify(results(), null, 2));
process.exitCode = failed ? 1 : 0;
