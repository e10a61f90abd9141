// Generates TypeScript for proto/*.proto with ts-proto through @bufbuild/buf. Both ship inside their
// npm packages, so this works offline on a fresh clone.
import { execFileSync } from 'node:child_process';
import { rmSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'packages/core/src/gen');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
execFileSync(join(root, 'node_modules/.bin/buf'), ['generate'], { cwd: root, stdio: 'inherit' });
