#!/usr/bin/env node
/**
 * Builds src/governance/price-catalog.json — per-model token prices of the hosted providers the gateway routes to —
 * from @pydantic/genai-prices, keeping only what pricing needs (model match rules, input/output prices per 1M
 * tokens and long-context tiers), so the Worker bundle does not carry the package's whole dataset. Each model is
 * one row, `[id, match, input, output]`, with its match rule written compactly (see compactMatch): the catalog is
 * the largest part of the bundle, and this halves it.
 *
 *   node scripts/price-catalog.mjs           writes the file
 *   node scripts/price-catalog.mjs --check   exits 1 when the file differs from what the installed package gives
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { findProvider } from "@pydantic/genai-prices";

/** The gateway's provider names (config/providers.ts HOSTED_OPENAI_COMPATIBLE) → genai-prices provider ids. */
const PROVIDERS = {
  openai: "openai",
  anthropic: "anthropic",
  groq: "groq",
  mistral: "mistral",
  openrouter: "openrouter",
  xai: "x-ai",
  cerebras: "cerebras",
  deepseek: "deepseek",
  together: "together",
  fireworks: "fireworks",
};

const OUT = fileURLToPath(new URL("../src/governance/price-catalog.json", import.meta.url));
const VERSION = JSON.parse(readFileSync(fileURLToPath(new URL("../node_modules/@pydantic/genai-prices/package.json", import.meta.url)), "utf8")).version;

/** The price in force today: the latest start-dated price already started, else the unconditional one. Off-peak
 * (time-of-day) discounts are left out, so those hours are charged at the standard rate. */
function currentPrices(prices, today) {
  if (!Array.isArray(prices)) return prices;
  let chosen = prices.find((entry) => !entry.constraint)?.prices;
  let chosenStart = "";
  for (const entry of prices) {
    const constraint = entry.constraint;
    if (constraint?.type === "start_date" && constraint.start_date <= today && constraint.start_date > chosenStart) {
      chosen = entry.prices;
      chosenStart = constraint.start_date;
    }
  }
  return chosen;
}

/** A flat price, or [base, [aboveInputTokens, price], …] when the whole request is repriced past a prompt size. */
function compactPrice(price) {
  if (price === undefined) return undefined;
  if (typeof price === "number") return price;
  return [price.base, ...[...price.tiers].sort((a, b) => a.start - b.start).map((tier) => [tier.start, tier.price])];
}

/**
 * A genai-prices match rule as `"=name"` (equals), `"^prefix"`, `"$suffix"`, `"~part"`, `"/regex"`, or
 * `["|", …rules]` / `["&", …rules]` for any / all of several.
 */
function compactMatch(logic) {
  if (logic.or) return ["|", ...logic.or.map(compactMatch)];
  if (logic.and) return ["&", ...logic.and.map(compactMatch)];
  const [kind, value] = Object.entries(logic)[0];
  const prefix = { equals: "=", starts_with: "^", ends_with: "$", contains: "~", regex: "/" }[kind];
  if (prefix === undefined) throw new Error(`unknown genai-prices match rule ${kind}`);
  return prefix + value;
}

export function buildCatalog(today = new Date().toISOString().slice(0, 10)) {
  const providers = {};
  for (const [name, id] of Object.entries(PROVIDERS)) {
    const provider = findProvider({ providerId: id });
    if (!provider) throw new Error(`genai-prices has no provider '${id}'`);
    providers[name] = provider.models.flatMap((model) => {
      const prices = currentPrices(model.prices, today);
      if (!prices || (prices.input_mtok === undefined && prices.output_mtok === undefined)) return [];
      const match = compactMatch(model.match);
      // The id is left out (0) when it is the one name the rule matches.
      return [[match === `=${model.id}` ? 0 : model.id, match, compactPrice(prices.input_mtok) ?? 0, compactPrice(prices.output_mtok) ?? 0]];
    });
  }
  return { source: `@pydantic/genai-prices@${VERSION}`, providers };
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  if (process.argv.includes("--check")) {
    const current = JSON.parse(readFileSync(OUT, "utf8"));
    const fresh = buildCatalog(current.built);
    if (JSON.stringify({ ...fresh, built: current.built }) !== JSON.stringify(current)) {
      console.error("src/governance/price-catalog.json is out of date: run node scripts/price-catalog.mjs");
      process.exit(1);
    }
  } else {
    const built = new Date().toISOString().slice(0, 10);
    writeFileSync(OUT, `${JSON.stringify({ ...buildCatalog(built), built })}\n`);
    console.log(`wrote ${OUT}`);
  }
}
