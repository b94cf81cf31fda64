/**
 * Routing under a virtual key is deny-by-default: only the providers in its provider_configs, only their allowed
 * models and keys. A model without a provider prefix is routed by the configs' weights.
 */
import type { RequestType } from "../config/schema";
import { GatewayError } from "../http/errors";
import { resolveModel, splitProvider, targetsOf, weightedOrder, type Resolution, type Target } from "../routing/resolve";
import { namesModel, type CompiledKey, type RoutingTable } from "../routing/table";
import type { ProviderConfig, VirtualKeyRecord } from "./schema";

export interface GovernedResolution extends Resolution {
  /** The provider config the request goes through; its own budgets and limits apply. */
  providerConfig: ProviderConfig;
  /** For a bare model name: the other weighted provider configs that serve it, heaviest first — its fallbacks. */
  alternates: Resolution[];
}

function blocked(type: "provider_blocked" | "model_blocked", message: string): GatewayError {
  return new GatewayError(403, message, type, { type, param: "model" });
}

/** Whether a list names the model, bare or under its provider. */
function listsModel(list: readonly string[], provider: string, name: string): boolean {
  return list.includes(name) || list.includes(`${provider}/${name}`);
}

export function allowsModel(config: ProviderConfig, name: string): boolean {
  const refused = config.blacklisted_models;
  if (refused && (refused.includes("*") || listsModel(refused, config.provider, name))) return false;
  const allowed = config.allowed_models;
  return allowed === null || allowed.includes("*") || listsModel(allowed, config.provider, name);
}

/** May requests under this provider config use this provider key (key_ids, by id or name)? */
export function keyAllowed(config: ProviderConfig, key: Pick<CompiledKey, "id" | "name">): boolean {
  const keys = config.key_ids;
  return keys === null || keys.includes("*") || keys.includes(key.id) || keys.includes(key.name);
}

function allowedTargets(config: ProviderConfig, targets: Target[]): Target[] {
  return targets.filter((target) => keyAllowed(config, target.key));
}

function throughConfig(table: RoutingTable, vk: VirtualKeyRecord, config: ProviderConfig, name: string, publicModel: string, requestType: RequestType): GovernedResolution {
  if (!allowsModel(config, name)) {
    throw blocked("model_blocked", `virtual key '${vk.name}' may not use model '${name}' of provider '${config.provider}'`);
  }
  const { targets } = resolveModel(table, `${config.provider}/${name}`, requestType);
  const permitted = allowedTargets(config, targets);
  if (permitted.length === 0) {
    throw blocked("provider_blocked", `virtual key '${vk.name}' may use none of the keys of provider '${config.provider}' that serve '${name}'`);
  }
  return { publicModel, targets: permitted, providerConfig: config, alternates: [] };
}

/** Whether a key of one of the virtual key's other providers names the model itself (listed, aliased, pinned), not only as "every model". */
function namedElsewhere(table: RoutingTable, vk: VirtualKeyRecord, name: string, except: string): boolean {
  return vk.provider_configs.some((config) => config.provider !== except && table.providers.get(config.provider)?.keys.some((key) => key.enabled && namesModel(key, name)) === true);
}

export function resolveForVirtualKey(
  table: RoutingTable,
  vk: VirtualKeyRecord,
  model: string,
  requestType: RequestType,
  defaultProvider?: string,
  unlistedProvider?: string,
): GovernedResolution {
  if (vk.provider_configs.length === 0) {
    throw blocked("provider_blocked", `virtual key '${vk.name}' has no provider_configs, so it may use no provider`);
  }
  const { provider, name } = splitProvider(table, model);
  const providerName = provider?.name ?? (defaultProvider && table.providers.has(defaultProvider) ? defaultProvider : undefined);
  if (providerName) {
    const config = vk.provider_configs.find((c) => c.provider === providerName);
    if (!config) {
      const allowed = vk.provider_configs.map((c) => c.provider).join(", ");
      throw blocked("provider_blocked", `virtual key '${vk.name}' may not use provider '${providerName}'; allowed: ${allowed}`);
    }
    return throughConfig(table, vk, config, name, model, requestType);
  }
  // Anthropic's base URL: a name no key of the key's other providers names itself is a Claude model, as it is keyless.
  const unlisted = vk.provider_configs.find((config) => config.provider === unlistedProvider && table.providers.has(config.provider));
  if (unlisted && !namedElsewhere(table, vk, name, unlisted.provider)) return throughConfig(table, vk, unlisted, name, model, requestType);
  // A bare model name: the weighted provider configs that allow it and whose provider serves it.
  const candidates = vk.provider_configs.filter((config) => {
    const compiled = table.providers.get(config.provider);
    return (
      config.weight !== null &&
      compiled !== undefined &&
      allowsModel(config, name) &&
      (!compiled.allowedRequests || compiled.allowedRequests.has(requestType)) &&
      allowedTargets(config, targetsOf(compiled, name)).length > 0
    );
  });
  const [chosen, ...others] = weightedOrder(candidates.map((config) => ({ key: { weight: config.weight ?? 0 }, config })));
  if (!chosen) {
    throw new GatewayError(
      400,
      `no provider of virtual key '${vk.name}' serves model '${model}'; name one explicitly (format: provider/model); allowed providers: ${vk.provider_configs.map((c) => c.provider).join(", ")}`,
      "provider_required",
      { param: "model" },
    );
  }
  const primary = throughConfig(table, vk, chosen.config, name, model, requestType);
  const alternates = others
    .sort((a, b) => b.key.weight - a.key.weight)
    .map(({ config }) => throughConfig(table, vk, config, name, model, requestType));
  return { ...primary, alternates };
}
