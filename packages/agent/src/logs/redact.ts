// The job log's redaction: every secret env value the job holds is written as *** in its log (the
// output of init and of the IDE install, the agent's notes), so neither the log on the instance nor
// `dstack logs` shows one. Log lines are whole lines (LineSplitter), so a value is masked wherever it
// sits in one; a value with line breaks is masked line by line. Values (and lines of values) shorter
// than 3 characters are left alone, as the daemon's log does: masking every `1` would make the log
// unreadable and hide nothing.
const MASK = Buffer.from('***');
const MIN_CHARS = 3;

/** A function that masks `values` in a log line; the identity when there is nothing to mask. */
export function logRedactor(values: Iterable<string>): (line: Buffer) => Buffer {
  const pieces = new Set<string>();
  for (const v of values) {
    for (const piece of v.split('\n')) {
      const p = piece.endsWith('\r') ? piece.slice(0, -1) : piece;
      if (p.length >= MIN_CHARS) pieces.add(p);
    }
  }
  // Longest first: a value that holds another is masked whole.
  const patterns = [...pieces].sort((a, b) => b.length - a.length).map((p) => Buffer.from(p));
  if (!patterns.length) return (line) => line;
  return (line) => {
    let out = line;
    for (const p of patterns) {
      let at = out.indexOf(p);
      if (at === -1) continue;
      const parts: Buffer[] = [];
      let from = 0;
      while (at !== -1) {
        parts.push(out.subarray(from, at), MASK);
        from = at + p.length;
        at = out.indexOf(p, from);
      }
      parts.push(out.subarray(from));
      out = Buffer.concat(parts);
    }
    return out;
  };
}
