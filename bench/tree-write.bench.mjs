// The agent's writes into a job's code dir, before and after they moved to held folder descriptors
// (safe-fs/: every file created relative to an O_PATH descriptor of its folder, never by path):
//  - a new job's first commit of a 20,000-file repo (commitExact into an empty code dir), as root
//    and for a job with `user:` (before: the commit, then the chown pass over the whole tree that
//    ran at job start; after: files created as that user);
//  - a 5,000-file live-sync batch into that tree (mergeCommit, applyCommit at BEFORE; before: plus the chown pass that ran
//    after every commit when `user:` was set).
// "Before" is the code of the commit the issue was read against (DSTACK_BENCH_BEFORE, default
// b7a161c), taken from git and bundled beside today's, so both run in this process on the same
// disk, interleaved, median of ROUNDS. The disk here is noisy: compare ratios, not seconds.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadBundle, median, report, root, time } from './lib.mjs';

const FILES = 20_000;
const BATCH = 5_000;
const ROUNDS = 3;
const USER = { uid: 4242, gid: 4242 };
const BEFORE = process.env.DSTACK_BENCH_BEFORE ?? 'b7a161c';
const BEFORE_FILES = [
  'packages/agent/src/code/sync.ts',
  'packages/agent/src/code/tree-commit.ts',
  'packages/agent/src/code/write-file.ts',
  'packages/agent/src/code/paths.ts',
  'packages/agent/src/code/blobs.ts',
  'packages/agent/src/files.ts',
];

const sha = (b) => createHash('sha256').update(b).digest('hex');

/** The agent's code as it was at BEFORE, written out under .cache/bench/before and bundled. */
async function loadBefore() {
  const dir = join(root, '.cache/bench/before');
  for (const f of BEFORE_FILES) {
    const text = execFileSync('git', ['-C', root, 'show', `${BEFORE}:${f}`], { encoding: 'utf8' });
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    writeFileSync(join(dir, f), text);
  }
  const src = join(dir, 'packages/agent/src');
  return loadBundle(
    'tree-write-before',
    `export { applyCommit } from '${src}/code/sync.ts'; export { commitExact } from '${src}/code/tree-commit.ts'; export { chownTree } from '${src}/files.ts';`,
  );
}

function entry(path, content) {
  return { path, mode: 0o644, size: content.length, sha256: sha(content), symlinkTarget: '', directory: false };
}

export default async function bench() {
  if (process.getuid?.() !== 0) throw new Error('this bench gives files to another user: run it as root');
  const before = await loadBefore();
  const after = await loadBundle(
    'tree-write-after',
    `export { mergeCommit } from './packages/agent/src/code/sync.ts'; export { commitExact } from './packages/agent/src/code/tree-commit.ts'; export { BlobStore } from './packages/agent/src/code/blobs.ts';`,
  );
  const base = mkdtempSync(join(tmpdir(), 'dstack-bench-tree-'));
  try {
    const blobs = new after.BlobStore(join(base, 'blobs'));
    const put = (content) => {
      const w = blobs.writer(sha(content));
      w.write(content);
      w.finish();
    };
    // 20,000 files of 200 B to 4 KB in 1,000 folders, two levels deep.
    const entries = [];
    for (let i = 0; i < FILES; i++) {
      const content = Buffer.from(`file ${i} `.repeat(20 + (i % 400)));
      put(content);
      entries.push(entry(`pkg${i % 50}/mod${i % 1000}/f${i}.py`, content));
    }
    // The batch: 5,000 of them with new content, held in memory as live sync holds a batch's small files.
    const inline = new Map();
    const batch = entries.slice(0, BATCH).map((e, i) => {
      const content = Buffer.from(`edited ${i} `.repeat(30));
      inline.set(sha(content), content);
      return entry(e.path, content);
    });

    let n = 0;
    const fresh = () => join(base, `wd-${n++}`);
    const ways = {
      before: {
        first: async (wd, owner) => {
          await before.commitExact(wd, blobs, {}, entries);
          if (owner) before.chownTree(wd, owner.uid, owner.gid);
        },
        batch: (wd, synced, owner) => {
          before.applyCommit(wd, blobs, synced, { full: false, entries: batch, removed: [], inline });
          if (owner) before.chownTree(wd, owner.uid, owner.gid);
        },
      },
      after: {
        first: (wd, owner) => after.commitExact(wd, blobs, {}, entries, undefined, owner),
        batch: (wd, synced, owner) => after.mergeCommit(wd, blobs, synced, { full: false, entries: batch, removed: [], inline, owner }),
      },
    };
    const times = {};
    const add = (k, ms) => (times[k] ??= []).push(ms);
    for (let round = 0; round < ROUNDS; round++) {
      for (const way of round % 2 ? ['after', 'before'] : ['before', 'after']) {
        for (const [label, owner] of [
          ['root', undefined],
          ['user', USER],
        ]) {
          const wd = fresh();
          add(`${way} first ${label}`, await time(() => ways[way].first(wd, owner)));
          // The batch goes into the tree just written, with the record a first commit leaves.
          const synced2 = {};
          const wd2 = fresh();
          await after.commitExact(wd2, blobs, synced2, entries, undefined, owner);
          add(`${way} batch ${label}`, await time(() => ways[way].batch(wd2, synced2, owner)));
          rmSync(wd, { recursive: true, force: true });
          rmSync(wd2, { recursive: true, force: true });
        }
      }
    }
    for (const label of ['root', 'user']) {
      report({
        name: `first commit of ${FILES} files (${label === 'root' ? 'as root' : 'job user: files handed over'}), held folders`,
        value: median(times[`after first ${label}`]),
        baseline: median(times[`before first ${label}`]),
        baselineName: `by path (${BEFORE})`,
        goal: 1.2,
      });
      report({
        name: `live-sync batch of ${BATCH} files (${label === 'root' ? 'as root' : 'job user'}), held folders`,
        value: median(times[`after batch ${label}`]),
        baseline: median(times[`before batch ${label}`]),
        baselineName: `by path (${BEFORE})`,
        goal: 1.2,
      });
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await bench();
