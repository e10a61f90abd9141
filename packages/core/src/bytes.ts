// Sizes for people, in the two forms the product prints: amounts moved (pulls, uploads, syncs) in
// decimal units with a space ("12.3 MB", as transfer tools print them), and configured sizes in the
// units of the configuration grammar, powers of 1024 written as dstack writes them ("1.0GB").

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

function scaled(n: number, base: number): { value: number; unit: string } {
  let value = n;
  let i = 0;
  while (value >= base && i < UNITS.length - 1) {
    value /= base;
    i++;
  }
  return { value, unit: UNITS[i] };
}

/** An amount of bytes moved: `512 B`, `12.3 MB`. */
export function formatBytes(n: number): string {
  const { value, unit } = scaled(n, 1000);
  return unit === 'B' ? `${value} B` : `${value.toFixed(1)} ${unit}`;
}

/** A size as the configuration writes it (KB/MB/GB are powers of 1024): `512B`, `1.0GB`. */
export function formatSize(n: number): string {
  const { value, unit } = scaled(n, 1024);
  return unit === 'B' ? `${value}B` : `${value.toFixed(1)}${unit}`;
}
