// What the CLI's bundle gets for @grpc/grpc-js (scripts/build.mjs): the generated daemon.ts imports
// it only to make a client class, and the CLI speaks to the daemon with grpc-h2.ts instead, so the
// bundle never loads grpc-js. The class is never constructed.
export class Client {
  constructor() {
    throw new Error('the CLI does not use the grpc-js client: see grpc-h2.ts');
  }
}

/** What the generated daemon client imports from grpc-js (this file stands in for it). @public */
export function makeGenericClientConstructor(): typeof Client {
  return Client;
}
