/**
 * Prices per model, in USD per 1M tokens, with overrides at global, provider, provider-key and virtual-key scope.
 * The most specific scope wins; within a scope an exact pattern beats a wildcard, and a longer wildcard prefix beats
 * a shorter one. Patterns match the model name with or without its provider prefix. Unpriced models cost 0.
 */
import type { PricingOverride } from "./schema";

export interface Price {
  inputPerMillion: number;
  outputPerMillion: number;
}

export interface PriceQuery {
  provider: string;
  keyName: string;
  virtualKeyId: string | null;
  /** The model as the client named it, without the provider prefix. */
  model: string;
}

export const FREE: Price = { inputPerMillion: 0, outputPerMillion: 0 };

const SCOPE_RANK: Record<PricingOverride["scope_kind"], number> = { virtual_key: 3, provider_key: 2, provider: 1, global: 0 };

function appliesTo(rule: PricingOverride, query: PriceQuery): boolean {
  switch (rule.scope_kind) {
    case "virtual_key":
      return rule.virtual_key_id === query.virtualKeyId && (rule.provider === null || rule.provider === query.provider);
    case "provider_key":
      return rule.provider === query.provider && rule.provider_key_name === query.keyName;
    case "provider":
      return rule.provider === query.provider;
    case "global":
      return true;
  }
}

/** How well a pattern matches: -1 no match; exact matches outrank every wildcard. */
function matchStrength(rule: PricingOverride, names: readonly string[]): number {
  if (rule.match_type === "exact") return names.includes(rule.pattern) ? Number.MAX_SAFE_INTEGER : -1;
  const prefix = rule.pattern.slice(0, -1);
  return names.some((name) => name.startsWith(prefix)) ? prefix.length : -1;
}

export function priceFor(rules: readonly PricingOverride[], query: PriceQuery): Price {
  const names = [query.model, `${query.provider}/${query.model}`];
  let best: PricingOverride | undefined;
  let bestRank = -1;
  let bestStrength = -1;
  for (const rule of rules) {
    if (!appliesTo(rule, query)) continue;
    const strength = matchStrength(rule, names);
    if (strength < 0) continue;
    const rank = SCOPE_RANK[rule.scope_kind];
    if (rank > bestRank || (rank === bestRank && strength > bestStrength)) {
      best = rule;
      bestRank = rank;
      bestStrength = strength;
    }
  }
  return best ? { inputPerMillion: best.input_price_per_million, outputPerMillion: best.output_price_per_million } : FREE;
}

export function costOf(price: Price, promptTokens: number, completionTokens: number): number {
  return (promptTokens * price.inputPerMillion + completionTokens * price.outputPerMillion) / 1_000_000;
}
