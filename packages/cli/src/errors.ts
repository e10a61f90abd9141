// Errors meant for the user: printed as one line, with the exit code they carry. The codes are the
// CLI's contract with scripts: 0 ok, 1 a failure the user can act on, 2 bad usage, 130 interrupted.
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = EXIT_FAILURE,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** A bad flag, flag value or missing confirmation: exit 2. */
export class UsageError extends UserError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
    this.name = 'UsageError';
  }
}

/** Ctrl+C where there was nothing left to ask: exit 130. */
export class InterruptedError extends UserError {
  constructor(message = 'interrupted') {
    super(message, EXIT_INTERRUPTED);
    this.name = 'InterruptedError';
  }
}

/** The daemon answered with an error: its message is the line the user sees. */
export class DaemonError extends UserError {
  constructor(
    message: string,
    readonly grpcCode: number,
  ) {
    super(message, EXIT_FAILURE);
    this.name = 'DaemonError';
  }
}

/** Several lines already printed (e.g. one per configuration error): only the exit code is left. */
export class ReportedError extends UserError {
  constructor(exitCode = EXIT_FAILURE) {
    super('', exitCode);
    this.name = 'ReportedError';
  }
}

/** Why a file could not be read, in a few words (for `cannot read FILE: ...` lines). */
export function whyUnreadable(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT'
    ? 'no such file'
    : code === 'EISDIR'
      ? 'it is a folder'
      : code === 'EACCES'
        ? 'permission denied'
        : (err as Error).message;
}
