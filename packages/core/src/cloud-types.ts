// The GPU clouds this build can create instances on (`backends:` entries, `dstack backend add`):
// one list for the daemon's parser and the CLI's check.
export const CLOUD_TYPES = ['lambda'] as const;
export type CloudType = (typeof CLOUD_TYPES)[number];
