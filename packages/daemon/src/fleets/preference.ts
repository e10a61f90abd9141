// The order the planner offers and tries offers in. Usable offers first: at the same price an idle
// fleet instance comes before this machine (`local`) and before anything new, so a run lands on the
// user's fleet when one of its hosts is free and fits (local stays offered: `backends:` or `fleets:`
// in the configuration leave it out), and a cloud instance kept idle comes before a new one. Busy and unreachable instances follow, shown but never picked.
import type { Offer } from '@dstack/core/gen/daemon';
import { sortOffers } from '@dstack/core/offers/sort';

/** Available now: an offer the planner may pick. */
export function isUsable(o: Pick<Offer, 'availability'>): boolean {
  return !o.availability || o.availability === 'available';
}

export function rankOffers(offers: readonly Offer[]): Offer[] {
  const sorted = sortOffers(offers);
  const usable = sorted
    .filter(isUsable)
    .map((offer, index) => ({ offer, index }))
    .sort(
      (a, b) =>
        a.offer.price - b.offer.price ||
        Number(!a.offer.fleet) - Number(!b.offer.fleet) ||
        // An instance that exists (a cloud one kept idle) before a new one at the same price.
        Number(!a.offer.instanceName) - Number(!b.offer.instanceName) ||
        // Of a host split into blocks, the fewest blocks that fit: the rest stay free for other runs.
        (a.offer.blocks || 0) - (b.offer.blocks || 0) ||
        a.index - b.index,
    )
    .map(({ offer }) => offer);
  return [...usable, ...sorted.filter((o) => !isUsable(o))];
}

/** Why an offer is left out by `fleets:` in the configuration, if it is. */
export function outsideFleets(o: Pick<Offer, 'fleet'>, fleets: readonly string[] | null | undefined): string | undefined {
  if (!fleets?.length || fleets.includes(o.fleet)) return undefined;
  return o.fleet ? `fleet ${o.fleet} is not in fleets: ${fleets.join(', ')}` : `not a fleet instance (fleets: ${fleets.join(', ')})`;
}
