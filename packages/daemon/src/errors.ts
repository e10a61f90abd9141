// Errors the daemon's API answers with; the gRPC layer maps each to its status code.
export class BadRequestError extends Error {
  override name = 'BadRequestError';
}
export class NotFoundError extends Error {
  override name = 'NotFoundError';
}
/** An active run of that name exists (ALREADY_EXISTS). */
export class ConflictError extends Error {
  override name = 'ConflictError';
}
/** The request is fine but the state does not allow it now (FAILED_PRECONDITION). */
export class PreconditionError extends Error {
  override name = 'PreconditionError';
}
export class NotImplementedError extends Error {
  override name = 'NotImplementedError';
}
