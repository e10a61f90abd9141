// `volumes:` entries, by kind: network volumes (`name:/path`, which no backend of dstack-ts offers yet)
// and instance volumes (`/instance/path:/path`, a folder of the instance bind-mounted by the agent).
import type { InstanceMount, VolumeMount } from './types';

type AnyMount = VolumeMount | InstanceMount;

export function isInstanceMount(m: AnyMount): m is InstanceMount {
  return 'instance_path' in m;
}

export function instanceMounts(volumes: readonly AnyMount[]): InstanceMount[] {
  return volumes.filter(isInstanceMount);
}

export function networkVolumes(volumes: readonly AnyMount[]): VolumeMount[] {
  return volumes.filter((m): m is VolumeMount => !isInstanceMount(m));
}

/** A mount in the file's short form, for views and messages: `/data:/data (optional)`, `vol:/data`, `[a, b]:/data`. */
export function mountText(m: AnyMount): string {
  if (isInstanceMount(m)) return `${m.instance_path}:${m.path}${m.optional ? ' (optional)' : ''}`;
  return `${m.name.length === 1 ? m.name[0] : `[${m.name.join(', ')}]`}:${m.path}`;
}

/**
 * Why no backend can take these volumes, or undefined: a network volume (no backend of dstack-ts
 * has them yet). One line naming each such volume.
 */
export function networkVolumeRefusal(volumes: readonly AnyMount[]): string | undefined {
  const network = networkVolumes(volumes);
  if (!network.length) return undefined;
  const named = network.map((m) => `${m.name.length === 1 ? `volume ${m.name[0]}` : `volumes ${m.name.join(', ')}`} at ${m.path}`);
  return `volumes: ${named.join('; ')}: no configured backend offers network volumes (dstack-ts has none yet); mount a folder of the instance instead (/instance/path:${network[0].path})`;
}
