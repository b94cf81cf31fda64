/**
 * What a request costs, priced at the model actually served: the name sent upstream (after aliases and
 * `model_name`), compared in lower case. Overrides (USD per 1M tokens, or per audio second) apply at global,
 * provider, provider-key and virtual-key scope and win over the bundled catalog of hosted-model prices.
 *
 * Among overrides: the most specific scope wins; within a scope a rule naming the served model beats one naming the
 * client-facing name (an alias), an exact pattern beats a wildcard, and a longer wildcard prefix beats a shorter
 * one. Patterns match with or without the provider prefix. A model with neither an override nor a catalog price
 * has no price (null): under a dollar budget such a request is refused rather than served for free.
 */
import { catalogEntry, rateAt, CATALOG_SOURCE, type TieredPrice } from "./price-catalog";
import type { PricingOverride } from "./schema";

export type PriceSource =
  | { kind: "override"; id: string; name: string; scope_kind: PricingOverride["scope_kind"]; pattern: string; matched: "served_model" | "client_model" }
  | { kind: "catalog"; catalog: string; model: string };

export interface Price {
  /** USD per 1M prompt tokens (tiered prices reprice a whole request past a prompt size). */
  input: TieredPrice;
  /** USD per 1M completion tokens. */
  output: TieredPrice;
  /** USD per second of audio (transcriptions, translations). */
  perSecond: number;
  source: PriceSource;
}

export interface PriceQuery {
  provider: string;
  keyName: string;
  virtualKeyId: string | null;
  /** The model name sent to the origin. */
  servedModel: string;
  /** The model as the client named it, without the provider prefix. */
  clientModel: string;
}

/** What a request used, in every unit the gateway prices. */
export interface MeteredUsage {
  promptTokens: number;
  completionTokens: number;
  audioSeconds?: number | undefined;
}

const SCOPE_RANK: Record<PricingOverride["scope_kind"], number> = { virtual_key: 3, provider_key: 2, provider: 1, global: 0 };

/** The one form model names are compared in. */
export function normaliseModel(name: string): string {
  return name.trim().toLowerCase();
}

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

/** How well a pattern matches any of the names: -1 no match; exact matches outrank every wildcard. */
function matchStrength(rule: PricingOverride, names: readonly string[]): number {
  const pattern = normaliseModel(rule.pattern);
  if (rule.match_type === "exact") return names.includes(pattern) ? Number.MAX_SAFE_INTEGER : -1;
  const prefix = pattern.slice(0, -1);
  return names.some((name) => name.startsWith(prefix)) ? prefix.length : -1;
}

/** Lexicographic comparison of two equally long rank tuples. */
function outranks(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i += 1) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return false;
}

function bestOverride(rules: readonly PricingOverride[], query: PriceQuery): { rule: PricingOverride; matched: "served_model" | "client_model" } | null {
  const withPrefix = (name: string) => [name, `${query.provider}/${name}`];
  const served = withPrefix(normaliseModel(query.servedModel));
  const client = withPrefix(normaliseModel(query.clientModel));
  let best: { rule: PricingOverride; matched: "served_model" | "client_model"; rank: number[] } | null = null;
  for (const rule of rules) {
    if (!appliesTo(rule, query)) continue;
    const servedStrength = matchStrength(rule, served);
    const clientStrength = servedStrength >= 0 ? -1 : matchStrength(rule, client);
    if (servedStrength < 0 && clientStrength < 0) continue;
    const rank = [SCOPE_RANK[rule.scope_kind], servedStrength >= 0 ? 1 : 0, Math.max(servedStrength, clientStrength)];
    if (!best || outranks(rank, best.rank)) {
      best = { rule, matched: servedStrength >= 0 ? "served_model" : "client_model", rank };
    }
  }
  return best;
}

export function priceFor(rules: readonly PricingOverride[], query: PriceQuery): Price | null {
  const override = bestOverride(rules, query);
  if (override) {
    const { rule, matched } = override;
    return {
      input: rule.input_price_per_million,
      output: rule.output_price_per_million,
      perSecond: rule.price_per_second ?? 0,
      source: { kind: "override", id: rule.id, name: rule.name, scope_kind: rule.scope_kind, pattern: rule.pattern, matched },
    };
  }
  const entry = catalogEntry(query.provider, normaliseModel(query.servedModel));
  if (!entry) return null;
  return { input: entry.input, output: entry.output, perSecond: 0, source: { kind: "catalog", catalog: CATALOG_SOURCE, model: entry.id } };
}

/** Nano-dollars per completion token, at a prompt of `promptTokens`. */
export function nanosPerCompletionToken(price: Price, promptTokens: number): number {
  return rateAt(price.output, promptTokens) * 1000;
}

/** Nano-dollars the prompt and audio cost, whatever the request generates. */
export function fixedNanos(price: Price, promptTokens: number, audioSeconds = 0): number {
  return rateAt(price.input, promptTokens) * 1000 * promptTokens + price.perSecond * 1e9 * audioSeconds;
}

/** What a request's usage costs, in nano-dollars (integers, so sums stay exact). */
export function costNanos(price: Price | null, usage: MeteredUsage): number {
  if (!price) return 0;
  return Math.round(fixedNanos(price, usage.promptTokens, usage.audioSeconds ?? 0) + nanosPerCompletionToken(price, usage.promptTokens) * usage.completionTokens);
}
