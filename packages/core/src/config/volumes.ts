// `volumes:` entries, by kind: network volumes (`name:/path`, made with `type: volume`: daemon volumes/)
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
