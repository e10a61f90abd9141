#!/usr/bin/env node
// Runs the bundled CLI (npm run build makes dist/cli.cjs).
try {
  require.resolve('../../../dist/cli.cjs');
} catch {
  process.stderr.write('error: dstack is not built yet: run `npm run build` in the repository root\n');
  process.exit(1);
}
require('../../../dist/cli.cjs');
