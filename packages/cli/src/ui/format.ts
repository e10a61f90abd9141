// How prices and flags read in tables, as dstack prints them: `$0.11`, `$0`, `yes`. (Resources:
// formatResources in @dstack/core/offers/format.)
/** Dollars per hour with up to six significant digits, no trailing zeros: `$0.214516`, `$0.11`, `$0`. */
export function formatPrice(price: number): string {
  if (!price) return '$0';
  return `$${Number(price.toPrecision(6)).toString()}`;
}

/** `yes`/`no`, as the SPOT column shows it. */
export function yesNo(b: boolean): string {
  return b ? 'yes' : 'no';
}
