/**
 * Prices of hosted models from the bundled catalog (price-catalog.json, generated from @pydantic/genai-prices by
 * scripts/price-catalog.mjs). Each provider's models carry genai-prices' own match rules, evaluated here against
 * the model name sent upstream, in lower case.
 */
import catalog from "./price-catalog.json";

type MatchLogic =
  | { equals: string }
  | { starts_with: string }
  | { ends_with: string }
  | { contains: string }
  | { regex: string }
  | { and: MatchLogic[] }
  | { or: MatchLogic[] };

/** A flat USD-per-1M price, or [base, [aboveInputTokens, price], …] when long prompts reprice the whole request. */
export type TieredPrice = number | (number | [number, number])[];

interface CatalogModel {
  id: string;
  match: MatchLogic;
  input: TieredPrice;
  output: TieredPrice;
}

interface Catalog {
  source: string;
  built: string;
  providers: Record<string, CatalogModel[]>;
}

const data = catalog as Catalog;
const regexes = new Map<string, RegExp>();

function matches(logic: MatchLogic, name: string): boolean {
  if ("equals" in logic) return name === logic.equals;
  if ("starts_with" in logic) return name.startsWith(logic.starts_with);
  if ("ends_with" in logic) return name.endsWith(logic.ends_with);
  if ("contains" in logic) return name.includes(logic.contains);
  if ("regex" in logic) {
    let pattern = regexes.get(logic.regex);
    if (!pattern) regexes.set(logic.regex, (pattern = new RegExp(logic.regex)));
    return pattern.test(name);
  }
  if ("and" in logic) return logic.and.every((part) => matches(part, name));
  return logic.or.some((part) => matches(part, name));
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
    const found = models.find((entry) => matches(entry.match, candidate));
    if (found) return { id: found.id, input: found.input, output: found.output };
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
