/**
 * Step 4 of an inference request: under a virtual key, the chain's targets that may serve it at a known price, and
 * the worst case reserved at every level the key belongs to before any origin is contacted — from this isolate's
 * lease where one is held, otherwise with one Durable Object call per level, made together. A fallback
 * through another provider config counts against that config's own limits, so the reservation moves with it.
 */
import { admitRequest, inputOnly, releaseReservation, type AdmissionTicket, type LimiterLevel, type TokenEstimate } from "../governance/admission";
import { isChatTemplated, templateModel, templateOverhead } from "../governance/template-overhead";
import { groupLimiterName } from "../governance/groups";
import { groupsOfKey } from "../governance/group-usage";
import type { VirtualKeyRecord } from "../governance/schema";
import type { Price } from "../governance/pricing";
import type { Target } from "../routing/resolve";
import { pricedTargets, type PricedTargets } from "./charges";
import type { InferencePlan } from "./plan";
import type { Chain, Routed } from "./resolve";
import type { RequestScope } from "./scope";

export interface Admission {
  /** The chain's targets that may serve the request. */
  targets: Target[];
  /** Each target's price, when the request is governed (absent: looked up once the target answered). */
  prices: ReadonlyMap<Target, Price | null> | undefined;
  /** The reservation the request holds now (null: keyless, or nothing to count against). */
  ticket: AdmissionTicket | null;
}

/** Gives a reservation back, logging (never throwing) a failure: the reservation then lapses with its TTL. */
export function release(ticket: AdmissionTicket): Promise<void> {
  return releaseReservation(ticket).catch((error: unknown) => console.error(`releasing reservation ${ticket.reservationId} failed:`, error));
}

/** Whether a reservation an earlier chain made covers this chain too (the same provider config's limits). */
export function coversChain(ticket: AdmissionTicket, chain: Chain): boolean {
  return ticket.scope === chain.scope;
}

/**
 * A request that runs no model (tokenize, count_tokens) has no price: no budget and no unpriced model can refuse it,
 * and it reserves nothing — only its request windows and concurrency count it.
 */
function unpriced(chain: Chain): PricedTargets {
  return { targets: chain.targets, price: null, prices: new Map(chain.targets.map((target) => [target, null])) };
}

/**
 * Every limiter the request counts against: its key's (with the provider config's own limits), the key's team's and
 * the customer's — directly, or through the team — when they have any limits of their own.
 */
export function levelsOf(routed: Routed, vk: VirtualKeyRecord, scope: string, defaultShare: number): LimiterLevel[] {
  const levels: LimiterLevel[] = [{ kind: "virtual_key", name: vk.id, scope, leaseShare: vk.lease_share ?? defaultShare }];
  const { team, customer } = groupsOfKey(routed.table, vk);
  for (const group of [team, customer]) {
    if (group?.limited) levels.push({ kind: group.kind, name: groupLimiterName(group.kind, group.id), scope: null, leaseShare: group.lease_share ?? defaultShare });
  }
  return levels;
}

/** Admits the request for one chain, unless `held` (a reservation covering it) already does. */
/** The plan's estimate, with the prompt tokens the chain's models' chat templates were seen to add. */
function reservedEstimate(plan: Pick<InferencePlan, "estimate" | "requestType">, chain: Chain): TokenEstimate {
  if (!isChatTemplated(plan.requestType)) return plan.estimate;
  let extra = 0;
  for (const target of chain.targets) extra = Math.max(extra, templateOverhead(templateModel(target.provider.name, target.upstreamModel)));
  return extra === 0 ? plan.estimate : { ...plan.estimate, promptTokens: plan.estimate.promptTokens + extra };
}

export async function admitChain(scope: RequestScope, routed: Routed, chain: Chain, plan: Pick<InferencePlan, "estimate" | "metered" | "requestType">, held: AdmissionTicket | null): Promise<Admission> {
  if (!routed.vk) return { targets: chain.targets, prices: undefined, ticket: null };
  const estimate = plan.metered ? reservedEstimate(plan, chain) : inputOnly(0);
  const { targets, price, prices } = plan.metered ? pricedTargets(routed, chain, estimate) : unpriced(chain);
  if (held || chain.scope === null || !targets[0]) return { targets, prices, ticket: held };
  const levels = levelsOf(routed, routed.vk, chain.scope, scope.settings.LEASE_SHARE);
  const ticket = await admitRequest(scope.env, levels, estimate, price, routed.token, scope.waitUntil);
  return { targets, prices, ticket };
}
