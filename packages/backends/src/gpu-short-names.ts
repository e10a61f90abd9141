// GPU names as dstack writes them in offers and resource specs (`H200`, `A100`, `RTX4090`,
// `MI300X`), from what the host's tools report (`NVIDIA H200`, `NVIDIA A100-SXM4-80GB`,
// `AMD Instinct MI300X`). dstack converts on the server side the same way, so a spec written for
// dstack (`gpu: H200`) matches a host whose nvidia-smi says "NVIDIA H200". Used by every backend
// that builds offers from an agent's host info (this machine, fleet hosts).

function shortNvidia(raw: string): string {
  let name = raw.replace('NVIDIA ', '').replace('Tesla ', '').replace('Quadro ', '').replace('GeForce ', '');
  if (name.includes('GH200')) return 'GH200';
  if (name.includes('RTX A')) {
    // Ampere workstation cards: "RTX A6000" → A6000.
    const m = /A\d+/.exec(name.replace('RTX A', 'A'));
    return m ? m[0] : name.replace(/ /g, '');
  }
  name = name
    .replace(' Ti', 'Ti')
    .replace(/ ?SUPER/i, 'SUPER')
    .replace(' NVL', 'NVL')
    .replace(' Ada Generation', 'Ada')
    .replace('RTX ', 'RTX');
  // The model: a family letter and its number, with what is glued to it ("H100", "L40S",
  // "A100" out of "A100-SXM4-80GB"); otherwise the name without spaces ("RTX4090").
  const m = /[AHLPTV]\d+\w*/.exec(name);
  return m ? m[0] : name.replace(/ /g, '');
}

const AMD_INSTINCT = /^(?:AMD )?(?:Instinct )?(MI\d{1,3}[A-Z]?(?:-\w+)?)(?:\s|$)/i;

function shortAmd(raw: string): string {
  const m = AMD_INSTINCT.exec(raw);
  const name = m ? m[1] : raw;
  return name === 'MI300X-O' ? 'MI300X' : name;
}

const GAUDI: [string, string][] = [
  ['HL-205', 'Gaudi'],
  ['HL-225', 'Gaudi2'],
  ['HL-325', 'Gaudi3'],
  ['HL-338', 'Gaudi3'],
];

/** dstack's short name of a GPU reported by a host, for its vendor. */
export function dstackGpuName(vendor: string, raw: string): string {
  switch (vendor.toLowerCase()) {
    case 'nvidia':
      return shortNvidia(raw);
    case 'amd':
      return shortAmd(raw);
    case 'intel':
      return GAUDI.find(([model]) => raw.startsWith(model))?.[1] ?? raw;
    default:
      return raw;
  }
}
