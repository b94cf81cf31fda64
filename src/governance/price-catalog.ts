/**
 * Prices of hosted models from the bundled catalog (price-catalog.json, generated from @pydantic/genai-prices by
 * scripts/price-catalog.mjs). Each provider's models carry genai-prices' own match rules, evaluated here against
 * the model name sent upstream, in lower case.
 */
import catalog from "./price-catalog.json";

/**
 * genai-prices' match rule, written compactly: "=name" (equals), "^prefix", "$suffix", "~part", "/regex", or
 * ["|", …rules] / ["&", …rules] for any / all of several.
 */
type MatchRule = string | [string, ...MatchRule[]];

/** A flat USD-per-1M price, or [base, [aboveInputTokens, price], …] when long prompts reprice the whole request. */
export type TieredPrice = number | (number | [number, number])[];

/** [id (0: the one name the rule matches), match rule, input price, output price]. */
type CatalogModel = [id: string | 0, match: MatchRule, input: TieredPrice, output: TieredPrice];

interface Catalog {
  source: string;
  built: string;
  providers: Record<string, CatalogModel[]>;
}

// TypeScript widens the JSON's tuples to arrays; the file is generated (and checked in the tests) by the script.
const data = catalog as unknown as Catalog;
const regexes = new Map<string, RegExp>();

function matches(rule: MatchRule, name: string): boolean {
  if (Array.isArray(rule)) {
    const [kind, ...parts] = rule;
    return kind === "&" ? parts.every((part) => matches(part, name)) : parts.some((part) => matches(part, name));
  }
  const value = rule.slice(1);
  switch (rule[0]) {
    case "=":
      return name === value;
    case "^":
      return name.startsWith(value);
    case "$":
      return name.endsWith(value);
    case "~":
      return name.includes(value);
    default: {
      let pattern = regexes.get(value);
      if (!pattern) regexes.set(value, (pattern = new RegExp(value)));
      return pattern.test(name);
    }
  }
}

export interface CatalogEntry {
  /** The catalog's id for the model. */
  id: string;
  input: TieredPrice;
  output: TieredPrice;
}

/** Where the bundled prices come from, e.g. "@pydantic/genai-prices@0.1.8 (2026-11-30)". */
export const CATALOG_SOURCE = `${data.source} (${data.built})`;

export function hasCatalog(provider: string): boolean {
  return provider in data.providers;
}

/** The catalog's price for a hosted provider's model (already normalised), or null when it has none. */
export function catalogEntry(provider: string, model: string): CatalogEntry | null {
  const models = data.providers[provider];
  if (!models) return null;
  // Names may arrive with an organisation prefix the catalog leaves out (e.g. "openai/gpt-4o" on openai).
  const bare = model.includes("/") && provider !== "openrouter" ? model.slice(model.lastIndexOf("/") + 1) : model;
  for (const candidate of bare === model ? [model] : [model, bare]) {
    const found = models.find((entry) => matches(entry[1], candidate));
    if (found) return { id: found[0] === 0 ? (found[1] as string).slice(1) : found[0], input: found[2], output: found[3] };
  }
  return null;
}

/** The USD-per-1M rate for a request whose prompt has `promptTokens`. */
export function rateAt(price: TieredPrice, promptTokens: number): number {
  if (typeof price === "number") return price;
  let rate = typeof price[0] === "number" ? price[0] : 0;
  for (const tier of price.slice(1)) if (Array.isArray(tier) && promptTokens > tier[0]) rate = tier[1];
  return rate;
}
