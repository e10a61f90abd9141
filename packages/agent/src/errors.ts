// Errors that map onto gRPC status codes (grpc/server.ts): the message is the one line a user sees.
export class NotFound extends Error {}
export class InvalidArgument extends Error {}
export class FailedPrecondition extends Error {}
