/**
 * Model addressing: `provider/model` when the prefix is a configured provider, otherwise a bare model name routed to
 * the providers whose keys list it. The result is an ordered list of candidate targets (weighted random order).
 */
import { isKnownProviderName } from "../config/providers";
import type { RequestType } from "../config/schema";
import { GatewayError, badRequest } from "../http/errors";
import { explicitModelNames, namesModel, servedModelName, type CompiledKey, type CompiledProvider, type RoutingTable } from "./table";

export interface Target {
  provider: CompiledProvider;
  key: CompiledKey;
  /** The model name sent to the origin. */
  upstreamModel: string;
}

export interface Resolution {
  /** The model string exactly as the client sent it; responses carry it back. */
  publicModel: string;
  targets: Target[];
}

function configuredList(table: RoutingTable): string {
  const names = [...table.providers.keys()];
  return names.length ? names.join(", ") : "none (add one with POST /api/providers)";
}

/** Splits `provider/model` when the prefix is a configured provider; a known but unconfigured type is a 400. */
export function splitProvider(table: RoutingTable, model: string): { provider: CompiledProvider | undefined; name: string } {
  if (model.trim() === "") throw badRequest("model must not be empty", "invalid_model", "model");
  const slash = model.indexOf("/");
  if (slash <= 0) return { provider: undefined, name: model };
  const prefix = model.slice(0, slash);
  const provider = table.providers.get(prefix);
  if (provider) {
    const name = model.slice(slash + 1);
    // "vllm/" would reach the origin as "", which vLLM serves as its default model: not what the client named.
    if (name.trim() === "") throw badRequest(`model names provider '${prefix}' but no model after it`, "invalid_model", "model");
    return { provider, name };
  }
  if (isKnownProviderName(prefix)) {
    throw badRequest(`provider '${prefix}' is not configured; configured providers: ${configuredList(table)}`, "provider_not_configured", "model");
  }
  return { provider: undefined, name: model };
}

export function checkRequestAllowed(provider: CompiledProvider, requestType: RequestType): void {
  if (provider.allowedRequests && !provider.allowedRequests.has(requestType)) {
    throw badRequest(
      `${requestType} is not allowed for provider '${provider.name}' (custom_provider_config.allowed_requests)`,
      "unsupported_operation",
    );
  }
}

export function targetsOf(provider: CompiledProvider, name: string): Target[] {
  const targets: Target[] = [];
  for (const key of provider.keys) {
    const upstreamModel = servedModelName(key, name);
    if (upstreamModel !== null) targets.push({ provider, key, upstreamModel });
  }
  return targets;
}

function modelNotServed(provider: CompiledProvider, name: string): GatewayError {
  const enabled = provider.keys.filter((key) => key.enabled);
  if (enabled.length === 0) {
    return new GatewayError(404, `provider '${provider.name}' has no enabled keys`, "model_not_found", { param: "model" });
  }
  const available = [...new Set(enabled.flatMap(explicitModelNames))].sort();
  return new GatewayError(
    404,
    `model '${name}' is not served by provider '${provider.name}'; available: ${available.map((m) => `${provider.name}/${m}`).join(", ") || "none"}`,
    "model_not_found",
    { param: "model" },
  );
}

/**
 * Resolves a request's model into candidate targets. `defaultProvider` takes every bare name on provider-scoped
 * prefixes (/vllm/…); `unlistedProvider` the bare names no key lists by name (Anthropic's base URL: `anthropic`).
 */
export function resolveModel(table: RoutingTable, model: string, requestType: RequestType, defaultProvider?: string, unlistedProvider?: string): Resolution {
  const { provider, name } = splitProvider(table, model);
  if (provider) {
    checkRequestAllowed(provider, requestType);
    const targets = targetsOf(provider, name);
    if (targets.length === 0) throw modelNotServed(provider, name);
    return { publicModel: model, targets: weightedOrder(targets) };
  }
  const fallback = defaultProvider === undefined ? undefined : table.providers.get(defaultProvider);
  if (fallback) return { publicModel: model, targets: resolveModel(table, `${fallback.name}/${model}`, requestType).targets };
  // A bare name goes to the keys that list it by name; "all models" keys do not claim bare names.
  const targets: Target[] = [];
  for (const candidate of table.providers.values()) {
    if (candidate.allowedRequests && !candidate.allowedRequests.has(requestType)) continue;
    for (const target of targetsOf(candidate, name)) {
      if (namesModel(target.key, name)) targets.push(target);
    }
  }
  if (targets.length === 0) {
    const unlisted = unlistedProvider === undefined ? undefined : table.providers.get(unlistedProvider);
    if (unlisted) return { publicModel: model, targets: resolveModel(table, `${unlisted.name}/${model}`, requestType).targets };
    throw badRequest(
      `provider is required in model field (format: provider/model): no configured provider lists model '${model}'; configured providers: ${configuredList(table)}`,
      "provider_required",
      "model",
    );
  }
  return { publicModel: model, targets: weightedOrder(targets) };
}

/** Weighted random order without replacement; zero weights come last, in random order. */
export function weightedOrder<T extends { key: { weight: number } }>(items: readonly T[], random: () => number = Math.random): T[] {
  if (items.length <= 1) return [...items];
  const pool = [...items];
  const ordered: T[] = [];
  while (pool.length > 0) {
    const total = pool.reduce((sum, item) => sum + item.key.weight, 0);
    let index = 0;
    if (total > 0) {
      let point = random() * total;
      index = pool.findIndex((item) => (point -= item.key.weight) < 0);
      if (index < 0) index = pool.length - 1;
    } else {
      index = Math.floor(random() * pool.length);
    }
    ordered.push(...pool.splice(index, 1));
  }
  return ordered;
}
