/** /api/governance/pricing-overrides — model prices (USD per 1M tokens) at global, provider, key or virtual-key scope. */
import { queryOf } from "../http/query";
import { routeGroup, type App } from "../http/apps";
import * as z from "zod/mini";
import { providerName } from "../config/schema";
import { getRoutingTable, loadPricing, publishSnapshot } from "../config/store";
import { parseOrThrow } from "../config/validation";
import type { AppEnv } from "../env";
import { readJsonObject } from "../http/body";
import { GatewayError, jsonResponse } from "../http/errors";
import { waitUntilOf } from "../http/context";
import { CATALOG_SOURCE, rateAt } from "../governance/price-catalog";
import { priceFor, type Price } from "../governance/pricing";
import { targetsOf } from "../routing/resolve";
import { pricingOverrideSchema, type PricingOverride, type PricingOverrideInput } from "../governance/schema";

const BODY_LIMIT = 64 * 1024;

/** Per-token prices (Bifrost's pricing_patch) become per-1M prices; explicit per-1M prices win. */
export function normalisePricingOverride(id: string, input: PricingOverrideInput): PricingOverride {
  const perMillion = (explicit: number | undefined, perToken: number | undefined) => explicit ?? (perToken === undefined ? 0 : perToken * 1_000_000);
  return {
    id,
    name: input.name ?? input.pattern,
    scope_kind: input.scope_kind,
    provider: input.provider ?? input.provider_id ?? null,
    provider_key_name: input.provider_key_name ?? null,
    virtual_key_id: input.virtual_key_id ?? null,
    match_type: input.match_type,
    pattern: input.pattern,
    input_price_per_million: perMillion(input.input_price_per_million, input.pricing_patch?.input_cost_per_token),
    output_price_per_million: perMillion(input.output_price_per_million, input.pricing_patch?.output_cost_per_token),
    price_per_second: input.price_per_second ?? input.pricing_patch?.input_cost_per_second ?? 0,
  };
}

/** Writes the rule to D1; isolates price with it once the configuration is published (an import publishes once, at its end). */
export async function writePricingOverride(env: AppEnv["Bindings"], rule: PricingOverride): Promise<void> {
  const now = Date.now();
  await env.DB.prepare(
    "INSERT INTO pricing_overrides (id, config, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) ON CONFLICT(id) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at",
  )
    .bind(rule.id, JSON.stringify(rule), now)
    .run();
}

/** Writes the rule and publishes the configuration, so every isolate prices with it within seconds. */
async function savePricingOverride(env: AppEnv["Bindings"], rule: PricingOverride): Promise<void> {
  await writePricingOverride(env, rule);
  await publishSnapshot(env);
}

export const pricingRoutes = routeGroup();

const priceQuery = z.strictObject({
  provider: providerName,
  model: z.string().check(z.minLength(1), z.maxLength(256)),
  virtual_key_id: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
});

/** One line of a price answer, in the units the overrides use. */
function presentPrice(price: Price | null, promptTokens: number) {
  if (!price) return null;
  return {
    input_price_per_million: rateAt(price.input, promptTokens),
    output_price_per_million: rateAt(price.output, promptTokens),
    ...(typeof price.input === "number" && typeof price.output === "number" ? {} : { tiered: { input: price.input, output: price.output } }),
    price_per_second: price.perSecond,
    source: price.source,
  };
}

/**
 * The price in force for a model, on each key of the provider that serves it, and where it comes from (an
 * override, or the bundled catalog) — null where there is none, which a dollar budget refuses.
 */
pricingRoutes.get("/effective", async (c) => {
  const query = parseOrThrow(priceQuery, queryOf(c), "price query");
  const table = await getRoutingTable(c.env, waitUntilOf(c));
  const provider = table.providers.get(query.provider);
  if (!provider) throw new GatewayError(404, `provider '${query.provider}' is not configured`, "provider_not_found", { param: "provider" });
  const name = query.model.startsWith(`${provider.name}/`) ? query.model.slice(provider.name.length + 1) : query.model;
  const keys = targetsOf(provider, name).map((target) => {
    const priceQuery = { provider: provider.name, keyName: target.key.name, virtualKeyId: query.virtual_key_id ?? null, servedModel: target.upstreamModel, clientModel: name };
    return {
      key: target.key.name,
      served_model: target.upstreamModel,
      price: presentPrice(priceFor(table.pricing, priceQuery), 0),
      // What the bundled catalog alone would charge: what an override replaces, or what is in force without one.
      catalog_price: presentPrice(priceFor([], priceQuery), 0),
    };
  });
  if (keys.length === 0) throw new GatewayError(404, `no key of provider '${provider.name}' serves model '${name}'`, "model_not_found", { param: "model" });
  return jsonResponse({ provider: provider.name, model: name, keys, catalog: CATALOG_SOURCE });
});

pricingRoutes.get("/", async (c) => {
  const overrides = await loadPricing(c.env);
  return jsonResponse({ pricing_overrides: overrides, total: overrides.length });
});

pricingRoutes.post("/", async (c) => {
  const rule = normalisePricingOverride(crypto.randomUUID(), parseOrThrow(pricingOverrideSchema, await readJsonObject(c.req.raw, BODY_LIMIT), "pricing override"));
  await savePricingOverride(c.env, rule);
  return jsonResponse({ message: "Pricing override created successfully", pricing_override: rule });
});

pricingRoutes.put("/:id", async (c) => {
  const rule = normalisePricingOverride(c.req.param("id"), parseOrThrow(pricingOverrideSchema, await readJsonObject(c.req.raw, BODY_LIMIT), "pricing override"));
  await savePricingOverride(c.env, rule);
  return jsonResponse({ message: "Pricing override saved successfully", pricing_override: rule });
});

pricingRoutes.delete("/:id", async (c) => {
  const { meta } = await c.env.DB.prepare("DELETE FROM pricing_overrides WHERE id = ?1").bind(c.req.param("id")).run();
  if (meta.changes === 0) throw new GatewayError(404, `pricing override '${c.req.param("id")}' not found`, "not_found");
  await publishSnapshot(c.env);
  return jsonResponse({ message: "Pricing override deleted successfully" });
});
