// Offers for a configuration: every configured backend's offers, narrowed by the configuration's
// backends, regions, instance types, spot policy, max price and creation policy (`reuse`: existing
// instances only: this machine, fleet hosts, idle cloud instances), then matched against its resource
// spec (core's offerFits) and ranked: usable offers cheapest first (an idle fleet instance before
// this machine at the same price), busy or unreachable ones last. When nothing usable fits, one line
// per offer or host says why.
import type { InstanceMount, ResourcesSpec, VolumeMount } from '@dstack/core/config/index';
import { instanceMounts } from '@dstack/core/config/volumes';
import { offerFits } from '@dstack/core/offers/index';
import type { Offer } from '@dstack/core/gen/daemon';
import type { Backend, OfferList } from '@dstack/backends/backend';
import { isUsable, outsideFleets, rankOffers } from '../fleets/preference';
import { backendVolumeRefusal, offerWithVolumes, volumeRefusal, type VolumeCatalog } from '../volumes/attach';

export interface OfferRequirements {
  resources: ResourcesSpec;
  spot_policy: 'spot' | 'on-demand' | 'auto';
  max_price: number | null;
  backends: string[] | null;
  regions: string[] | null;
  instance_types?: string[] | null;
  /** Fleet names a run may use; null: any, and non-fleet backends too. */
  fleets?: string[] | null;
  /** `reuse`: only offers of existing instances (Offer.instance_name set), never a new one. */
  creation_policy?: 'reuse' | 'reuse-or-create';
  /** What a container cloud cannot do for the run's container (backend.ts containerCloud). */
  registry_auth?: unknown;
  privileged?: boolean | null;
  /** `docker: true` (Docker-in-Docker) needs a privileged container too. */
  docker?: boolean | null;
  /** A backend whose jobs run on the host (Backend.hostOnly) cannot run an image. */
  image?: string | null;
  /** Network volumes: only offers that can attach them (volumes/attach.ts); instance volumes: not on container clouds. */
  volumes?: (VolumeMount | InstanceMount)[];
}

/** Why a container cloud cannot take this run, or undefined. */
function containerCloudRefusal(b: Backend, req: OfferRequirements): string | undefined {
  if (!b.containerCloud) return undefined;
  if (req.registry_auth)
    return `${b.type}: registry_auth is not passed to container clouds (the provider pulls the image itself): use a public image there`;
  if (req.privileged) return `${b.type}: privileged: true is not possible where the provider starts the container`;
  if (req.docker) return `${b.type}: docker: true (a privileged container) is not possible where the provider starts the container`;
  // As dstack: instance volumes are not on container backends, unless optional (then left out there).
  const required = instanceMounts(req.volumes ?? []).filter((m) => !m.optional);
  if (required.length) {
    const list = required.map((m) => `${m.instance_path}:${m.path}`).join(', ');
    return `${b.type}: instance volumes (${list}) are not possible where the provider starts the container: mark them \`optional: true\` to run there without them`;
  }
  return undefined;
}

/** Why a backend whose jobs run on the host (a Slurm job's step) cannot take this run, or undefined. */
function hostOnlyRefusal(b: Backend, req: OfferRequirements): string | undefined {
  if (!b.hostOnly) return undefined;
  if (req.image)
    return `${b.type}: image: ${req.image} cannot run there: its jobs run on the host (no container runtime); leave image: out`;
  if (req.docker) return `${b.type}: docker: true cannot run there: its jobs run on the host (no container runtime)`;
  if (req.privileged) return `${b.type}: privileged: true is for containers: its jobs run on the host`;
  return undefined;
}

export interface PlanOptions {
  /** The daemon's volumes, where a run's network volumes are looked up; left out: every one is unknown. */
  volumes?: VolumeCatalog;
  /** How many offers to return (the cheapest); 0 or left out: 50. */
  max?: number;
}

export interface OfferPlan {
  offers: Offer[];
  total: number;
  reasons: string[];
  /** Backends that failed to list their offers (whatever else fits): one line each. */
  backendErrors: string[];
}

function where(o: Offer): string {
  return o.instanceName && o.instanceName !== o.backend ? `${o.backend} ${o.instanceName}` : `${o.backend} (${o.region})`;
}

export function filterOffer(o: Offer, req: OfferRequirements): string | undefined {
  const fleet = outsideFleets(o, req.fleets);
  if (fleet) return fleet;
  if (req.regions && !req.regions.includes(o.region)) return `region ${o.region} is not in regions: ${req.regions.join(', ')}`;
  if (req.instance_types && !req.instance_types.includes(o.instanceType)) return `instance type ${o.instanceType} is not listed`;
  if (req.spot_policy === 'spot' && !o.spot) return 'not a spot offer (spot_policy: spot)';
  if (req.spot_policy === 'on-demand' && o.spot) return 'a spot offer (spot_policy: on-demand)';
  if (req.max_price !== null && o.price > req.max_price) return `$${o.price}/h is over max_price $${req.max_price}`;
  if (req.creation_policy === 'reuse' && !o.instanceName) return 'a new instance (creation_policy: reuse takes existing ones only)';
  if (!o.resources) return 'no resources known';
  const fit = offerFits(req.resources, o.resources);
  return fit.fits ? undefined : fit.reason;
}

export async function planOffers(backends: Backend[], req: OfferRequirements, opts: PlanOptions = {}): Promise<OfferPlan> {
  const { volumes: catalog, max } = opts;
  const never = volumeRefusal(catalog, req.volumes ?? []);
  if (never) return { offers: [], total: 0, reasons: [never], backendErrors: [] };
  const reasons: string[] = [];
  let chosen = backends;
  if (req.backends) {
    chosen = backends.filter((b) => req.backends!.includes(b.type));
    if (!chosen.length) {
      return {
        offers: [],
        total: 0,
        reasons: [
          `no configured backend is in backends: ${req.backends.join(', ')} (configured: ${backends.map((b) => b.type).join(', ')})`,
        ],
        backendErrors: [],
      };
    }
  }
  const query = {
    resources: req.resources,
    spot: req.spot_policy === 'spot' ? true : req.spot_policy === 'on-demand' ? false : null,
    maxPrice: req.max_price,
    regions: req.regions,
  };
  const backendErrors: string[] = [];
  chosen = chosen.filter((b) => {
    const why = containerCloudRefusal(b, req) ?? hostOnlyRefusal(b, req) ?? backendVolumeRefusal(catalog, b, req.volumes ?? []);
    if (why) reasons.push(why);
    return !why;
  });
  const lists = await Promise.all(
    chosen.map((b) =>
      b.offers(query).catch((err: Error): OfferList => {
        const line = err.message.startsWith(`${b.type}:`) ? err.message : `${b.type}: ${err.message}`;
        return { offers: [], reasons: [line], error: line };
      }),
    ),
  );
  const fitting: Offer[] = [];
  for (const l of lists) {
    reasons.push(...l.reasons);
    if (l.error) backendErrors.push(l.error);
    for (const offer of l.offers) {
      // Pinned to the volumes' region where the provider would pick one, before the region filter.
      const v = offerWithVolumes(catalog, offer, req.volumes ?? []);
      const o = 'offer' in v ? v.offer : offer;
      const why = 'reason' in v ? v.reason : filterOffer(o, req);
      if (why) reasons.push(`${where(o)}: ${why}`);
      else fitting.push(o);
    }
  }
  // Idle fleet instances first; busy or unreachable ones are listed but never picked (see preference.ts).
  const sorted = rankOffers(fitting);
  const usable = sorted.some(isUsable);
  for (const f of req.fleets ?? []) {
    if (!lists.some((l) => l.offers.some((o) => o.fleet === f)))
      reasons.push(`fleets: no ready host in a fleet named ${f} (see \`dstack fleet\`)`);
  }
  return { offers: sorted.slice(0, max || 50), total: sorted.length, reasons: usable ? [] : [...new Set(reasons)], backendErrors };
}
