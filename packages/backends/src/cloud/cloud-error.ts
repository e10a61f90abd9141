// A provider's error, classified the same way for every cloud: what the user can do about it
// differs (move to the next offer, raise a quota, fix a key, fix a request, wait), and the provider's
// own message is kept, on one line, so the user can search for it.
import { NoCapacityError } from '../backend';

export type CloudErrorKind = 'no-capacity' | 'quota' | 'credentials' | 'bad-request' | 'not-found' | 'provider-down';

const HINTS: Record<CloudErrorKind, string> = {
  'no-capacity': 'no capacity',
  quota: 'quota reached',
  credentials: 'credentials refused',
  'bad-request': 'request refused',
  'not-found': 'not found',
  'provider-down': 'provider unavailable',
};

export class CloudError extends Error {
  override name = 'CloudError';
  constructor(
    /** The backend type ("lambda"), first in the message. */
    readonly provider: string,
    readonly kind: CloudErrorKind,
    /** The provider's own words. */
    readonly providerMessage: string,
    readonly status = 0,
  ) {
    super(`${provider}: ${HINTS[kind]}: ${oneLine(providerMessage)}`);
  }
}

/** A no-capacity answer is the planner's NoCapacityError (the next offer is tried; a `no-capacity` retry event). */
export class CloudNoCapacityError extends NoCapacityError {
  constructor(
    readonly provider: string,
    readonly providerMessage: string,
  ) {
    super(`${provider}: no capacity: ${oneLine(providerMessage)}`);
  }
}

export function cloudError(provider: string, kind: CloudErrorKind, message: string, status = 0): Error {
  return kind === 'no-capacity' ? new CloudNoCapacityError(provider, message) : new CloudError(provider, kind, message, status);
}

export function isCloudError(err: unknown, kind?: CloudErrorKind): err is CloudError {
  return err instanceof CloudError && (kind === undefined || err.kind === kind);
}

function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 297)}...` : flat || '(no message)';
}
