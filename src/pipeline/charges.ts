/**
 * What a governed request is priced and charged at: the served model's price on each candidate target, the
 * dearest one to reserve at, the refusal of unpriced models under a dollar budget, and the usage to charge.
 */
import { groupsOfKey } from "../governance/group-usage";
import { GatewayError } from "../http/errors";
import type { TokenEstimate } from "../governance/admission";
import { fixedNanos, nanosPerCompletionToken, priceFor, type MeteredUsage, type Price } from "../governance/pricing";
import type { Resolution, Target } from "../routing/resolve";
import type { Answer, UsageReport } from "../upstream/respond";
import type { Grant } from "./attempt";
import type { Chain, Routed } from "./resolve";

const MAX_CACHED_PRICES = 10_000;

/**
 * The price of serving a chain's model on one target: the model sent upstream, under the name the client used.
 * Remembered on the routing table (prices change only with it), so a steady stream of requests looks each up once.
 */
export function priceOf(routed: Routed, chain: Resolution, target: Target): Price | null {
  const prefix = `${target.provider.name}/`;
  const clientModel = chain.publicModel.startsWith(prefix) ? chain.publicModel.slice(prefix.length) : chain.publicModel;
  const query = { provider: target.provider.name, keyName: target.key.name, virtualKeyId: routed.vk?.id ?? null, servedModel: target.upstreamModel, clientModel };
  const key = `${query.provider}\u0000${query.keyName}\u0000${query.virtualKeyId ?? ""}\u0000${query.servedModel}\u0000${query.clientModel}`;
  const cache = routed.table.priceCache;
  const known = cache.get(key);
  if (known !== undefined || cache.has(key)) return known ?? null;
  const price = priceFor(routed.table.pricing, query);
  if (cache.size >= MAX_CACHED_PRICES) cache.clear();
  cache.set(key, price);
  return price;
}

/** Does any dollar budget apply to a request through this provider config (the key's, the config's, the token's, the key's team's or customer's)? */
function underDollarBudget(routed: Routed, scope: string): boolean {
  const vk = routed.vk;
  if (!vk) return false;
  if (vk.budgets.length > 0 || routed.token?.budget !== undefined || vk.provider_configs.some((config) => config.id === scope && config.budgets.length > 0)) return true;
  const { team, customer } = groupsOfKey(routed.table, vk);
  return team?.budgeted === true || customer?.budgeted === true;
}

export interface PricedTargets {
  targets: Target[];
  /** The price to reserve at. */
  price: Price | null;
  /** Each target's own price, for charging whichever answers. */
  prices: ReadonlyMap<Target, Price | null>;
}

/**
 * The chain's targets that may serve the request, and the price to reserve at: the dearest of them for this
 * request, so a retry on another key can never cost more than was reserved. Under a dollar budget, targets whose
 * model has no price are left out; when none is left the request is refused — never served for free.
 */
export function pricedTargets(routed: Routed, chain: Chain, estimate: TokenEstimate): PricedTargets {
  const budgeted = chain.scope !== null && underDollarBudget(routed, chain.scope);
  const worst = (price: Price) => fixedNanos(price, estimate.promptTokens, estimate.audioSeconds) + nanosPerCompletionToken(price, estimate.promptTokens) * estimate.completionTokens * estimate.choices;
  const targets: Target[] = [];
  const prices = new Map<Target, Price | null>();
  let reserveAt: Price | null = null;
  for (const target of chain.targets) {
    const price = priceOf(routed, chain, target);
    prices.set(target, price);
    if (!price && budgeted) continue;
    targets.push(target);
    if (price && (!reserveAt || worst(price) > worst(reserveAt))) reserveAt = price;
  }
  if (targets.length === 0 && chain.targets[0]) {
    const served = chain.targets[0].upstreamModel;
    const provider = chain.targets[0].provider.name;
    throw new GatewayError(
      403,
      `model '${served}' of provider '${provider}' has no price, and a dollar budget applies to this virtual key (its own, its team's or its customer's): it cannot be served for free. ` +
        `Price it with POST /api/governance/pricing-overrides (e.g. {"scope_kind":"provider","provider":"${provider}","match_type":"exact","pattern":"${served}","input_price_per_million":0.1,"output_price_per_million":0.4}; 0 is a valid price)`,
      "model_unpriced",
      { type: "model_unpriced", param: "model" },
    );
  }
  return { targets, price: reserveAt, prices };
}

/** An answer whose usage is charged as nothing (and logged so): for requests that run no model. */
export function uncharged(answer: Answer): Answer {
  return { ...answer, usage: answer.usage.then((usage) => ({ ...usage, promptTokens: 0, completionTokens: 0, audioSeconds: undefined, unreported: false })) };
}

/** What a request is charged for: the origin's report, or — when its answer carried none — what was reserved. */
export function meteredUsage(usage: UsageReport, estimate: TokenEstimate, grant: Grant): MeteredUsage {
  // Audio is metered in seconds: the origin's, or — when it reported none (a stream, a token-only usage) — those
  // reserved. The tokens a stream's usage chunk (or its chunk count) carries are not a second charge on top.
  if (estimate.audioSeconds !== undefined) return { promptTokens: 0, completionTokens: 0, audioSeconds: usage.audioSeconds ?? estimate.audioSeconds };
  if (!usage.unreported) return usage;
  return { promptTokens: estimate.promptTokens, completionTokens: (grant.completionTokens ?? estimate.completionTokens) * estimate.choices, audioSeconds: estimate.audioSeconds };
}

