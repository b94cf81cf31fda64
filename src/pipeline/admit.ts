/**
 * Step 4 of an inference request: under a virtual key, the chain's targets that may serve it at a known price, and
 * one call to the key's Durable Object that reserves the worst case before any origin is contacted. A fallback
 * through another provider config counts against that config's own limits, so the reservation moves with it.
 */
import type { Env } from "../env";
import { admitRequest, inputOnly, releaseReservation, type AdmissionTicket } from "../governance/admission";
import type { Price } from "../governance/pricing";
import type { Target } from "../routing/resolve";
import { pricedTargets, type PricedTargets } from "./charges";
import type { InferencePlan } from "./plan";
import type { Chain, Routed } from "./resolve";

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

/** Admits the request for one chain, unless `held` (a reservation covering it) already does. */
export async function admitChain(env: Env, routed: Routed, chain: Chain, plan: Pick<InferencePlan, "estimate" | "metered">, held: AdmissionTicket | null): Promise<Admission> {
  if (!routed.vk) return { targets: chain.targets, prices: undefined, ticket: null };
  const estimate = plan.metered ? plan.estimate : inputOnly(0);
  const { targets, price, prices } = plan.metered ? pricedTargets(routed, chain, estimate) : unpriced(chain);
  const ticket = held ?? (chain.scope !== null && targets[0] ? await admitRequest(env, routed.vk, chain.scope, estimate, price, routed.token) : null);
  return { targets, prices, ticket };
}
