// Run names: what dstack accepts (`name:` in a configuration) and the random `<adjective>-<animal>-<n>`
// names given to runs without one (`fast-moth-1`). No I/O.

/** dstack's resource name rule: a lowercase letter, then 1 to 40 lowercase letters, digits or dashes. */
export const RUN_NAME_RE = /^[a-z][a-z0-9-]{1,40}$/;

export function isValidRunName(name: string): boolean {
  return RUN_NAME_RE.test(name);
}

const ADJECTIVES = [
  'able',
  'bold',
  'brave',
  'bright',
  'brisk',
  'calm',
  'clever',
  'cool',
  'crisp',
  'curious',
  'eager',
  'fast',
  'fierce',
  'fine',
  'fresh',
  'gentle',
  'glad',
  'grand',
  'happy',
  'hardy',
  'keen',
  'kind',
  'lively',
  'lucky',
  'merry',
  'mighty',
  'nimble',
  'noble',
  'polite',
  'proud',
  'quick',
  'quiet',
  'rapid',
  'sharp',
  'shiny',
  'silent',
  'smart',
  'snappy',
  'steady',
  'strong',
  'sunny',
  'swift',
  'tidy',
  'tough',
  'vivid',
  'warm',
  'wild',
  'wise',
  'witty',
  'zesty',
];

const ANIMALS = [
  'ant',
  'bat',
  'bear',
  'bee',
  'bison',
  'cat',
  'cobra',
  'crab',
  'crane',
  'crow',
  'deer',
  'dingo',
  'dog',
  'dove',
  'duck',
  'eagle',
  'eel',
  'elk',
  'falcon',
  'ferret',
  'fish',
  'fox',
  'frog',
  'gecko',
  'goat',
  'goose',
  'hare',
  'hawk',
  'horse',
  'ibis',
  'jaguar',
  'koala',
  'lamb',
  'lemur',
  'lion',
  'lizard',
  'llama',
  'lynx',
  'mole',
  'moth',
  'mouse',
  'newt',
  'otter',
  'owl',
  'panda',
  'puma',
  'quail',
  'rabbit',
  'seal',
  'shark',
  'snail',
  'swan',
  'tiger',
  'toad',
  'turtle',
  'walrus',
  'wasp',
  'whale',
  'wolf',
  'yak',
  'zebra',
];

export interface GenerateRunNameOptions {
  /** Names already in use; the generator keeps trying until it finds a free one. */
  isTaken?: (name: string) => boolean;
  /** A source of numbers in [0, 1); Math.random by default (tests pass a seeded one). */
  random?: () => number;
}

/** A random `<adjective>-<animal>-<n>` name (n from 1 to 99) that matches RUN_NAME_RE and is not taken. */
export function generateRunName(opts: GenerateRunNameOptions = {}): string {
  const random = opts.random ?? Math.random;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length) % xs.length];
  // 50 × 61 × 99 ≈ 300k names: after a few hundred tries every one of them is taken in practice,
  // so the fallback only widens the number.
  for (let attempt = 0; attempt < 1000; attempt++) {
    const n = 1 + (Math.floor(random() * (attempt < 500 ? 99 : 99_999)) % (attempt < 500 ? 99 : 99_999));
    const name = `${pick(ADJECTIVES)}-${pick(ANIMALS)}-${n}`;
    if (!opts.isTaken?.(name)) return name;
  }
  throw new Error('no free run name found after 1000 tries');
}
