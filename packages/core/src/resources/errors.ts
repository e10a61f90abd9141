// Grammar errors. Leaf parsers throw a GrammarError; parsers of object forms collect every problem
// into Issues, each with the path below the field being parsed, so the configuration parser can point
// at the offending node and report all problems at once.

export type Path = (string | number)[];

export class GrammarError extends Error {
  constructor(
    message: string,
    readonly path: Path = [],
    /** Point at the key itself (an unknown key), not at its value. */
    readonly atKey = false,
  ) {
    super(message);
    this.name = 'GrammarError';
  }
}

export interface GrammarIssue {
  path: Path;
  message: string;
  atKey?: boolean;
}

export class Issues {
  readonly list: GrammarIssue[] = [];

  add(path: Path, message: string, atKey = false): void {
    this.list.push({ path, message, atKey });
  }

  /** Runs a leaf parser; a GrammarError it throws becomes an issue at `path` and the result is undefined. */
  at<T>(path: Path, parse: () => T): T | undefined {
    try {
      return parse();
    } catch (err) {
      if (!(err instanceof GrammarError)) throw err;
      this.list.push({ path: [...path, ...err.path], message: err.message, atKey: err.atKey });
      return undefined;
    }
  }

  get ok(): boolean {
    return this.list.length === 0;
  }
}

/** How a value reads in an error message: strings quoted, lists and mappings named. */
export function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

/** `v` as a plain mapping, or null when it is something else. */
export function asMapping(v: unknown): Record<string, unknown> | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

/** Reports every key of `obj` not in `allowed`, at the key, with a suggestion. */
export function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string, issues: Issues, path: Path = []): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) issues.add([...path, key], unknownKeyMessage(key, allowed, where), true);
  }
}

export function unknownKeyMessage(key: string, allowed: readonly string[], where: string): string {
  const guess = didYouMean(key, allowed);
  return `unknown key \`${key}\` in ${where}${guess ? ` (did you mean \`${guess}\`?)` : `; allowed: ${allowed.join(', ')}`}`;
}

/** The closest candidate to `word` when it is close enough to be a likely typo, else null. */
export function didYouMean(word: string, candidates: readonly string[]): string | null {
  const w = word.toLowerCase();
  // `idle` is short for `idle_duration` more likely than a typo of `ide`.
  const head = w.length >= 3 ? candidates.find((c) => c.toLowerCase().startsWith(`${w}_`)) : undefined;
  if (head) return head;
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  if (best === null) return null;
  // A typo: a couple of edits for short words, a third of the length for long ones; or a prefix.
  const limit = Math.max(2, Math.floor(best.length / 3));
  if (bestDistance <= limit) return best;
  const prefix = candidates.find((c) => w.length >= 3 && (c.startsWith(w) || w.startsWith(c)));
  return prefix ?? null;
}

/** Damerau–Levenshtein distance (adjacent transpositions count as one edit). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
