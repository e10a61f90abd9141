// Offer matching, sorting and formatting for the daemon's planner and the CLI's tables. No I/O and no
// dependencies beyond the generated proto types (type-only), so the CLI can import it cheaply.
export { offerFits, type FitResult } from './fits';
export { sortOffers } from './sort';
export { formatResources } from './format';
