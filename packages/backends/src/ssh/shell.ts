// Quoting for commands sent to a remote POSIX shell.

/** One shell word, safe whatever it contains: 'it'\''s' style single quoting. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_\-./=:@%+,]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
