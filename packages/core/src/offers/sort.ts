// Offers cheapest first, as dstack lists them. At the same price an existing instance (a fleet host,
// this machine) comes before a new one, and available offers before busy or unavailable ones; otherwise
// the order they came in is kept.
import type { Offer } from '../gen/daemon';

const AVAILABILITY_RANK: Record<string, number> = { available: 0, '': 0, busy: 1, no_quota: 2, not_available: 3 };

export type SortableOffer = Pick<Offer, 'price'> & Partial<Pick<Offer, 'instanceName' | 'availability'>>;

export function sortOffers<T extends SortableOffer>(offers: readonly T[]): T[] {
  return offers
    .map((offer, index) => ({ offer, index }))
    .sort((x, y) => compareOffers(x.offer, y.offer) || x.index - y.index)
    .map(({ offer }) => offer);
}

function compareOffers(a: SortableOffer, b: SortableOffer): number {
  return (
    a.price - b.price ||
    Number(!a.instanceName) - Number(!b.instanceName) ||
    (AVAILABILITY_RANK[a.availability ?? ''] ?? 4) - (AVAILABILITY_RANK[b.availability ?? ''] ?? 4)
  );
}
