// /etc/os-release and /proc/meminfo, the two text files host info reads.

/** PRETTY_NAME (else NAME VERSION) from /etc/os-release. */
export function parseOsRelease(text: string): string {
  const vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) vars[m[1]] = m[2].replace(/^(["'])(.*)\1$/, '$2');
  }
  return vars.PRETTY_NAME || [vars.NAME, vars.VERSION].filter(Boolean).join(' ') || 'Linux';
}

/** MemTotal from /proc/meminfo, in bytes. */
export function parseMemTotal(text: string): number {
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(text);
  return m ? Number(m[1]) * 1024 : 0;
}
