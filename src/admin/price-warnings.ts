/**
 * Warnings for a virtual key with a dollar budget that can reach models without a price: such requests are refused
 * (never served for free), so the admin hears about it when the key is saved, not from a client's 403.
 */
import { groupsOfKey } from "../governance/group-usage";
import { allowsModel, keyAllowed } from "../governance/routing";
import { priceFor } from "../governance/pricing";
import type { ProviderConfig, VirtualKeyRecord } from "../governance/schema";
import { targetsOf } from "../routing/resolve";
import type { CompiledKey, CompiledProvider, RoutingTable } from "../routing/table";

/** A name no real model has: only a rule that prices every model ("*") prices it. */
const ANY_MODEL = "\u0000any model";

function keysOf(config: ProviderConfig, provider: CompiledProvider): CompiledKey[] {
  return provider.keys.filter((key) => key.enabled && keyAllowed(config, key));
}

function unpricedFor(table: RoutingTable, vk: VirtualKeyRecord, config: ProviderConfig, provider: CompiledProvider): string[] {
  const warnings: string[] = [];
  const keys = new Set(keysOf(config, provider));
  const price = (key: CompiledKey, served: string, client: string) => priceFor(table.pricing, { provider: provider.name, keyName: key.name, virtualKeyId: vk.id, servedModel: served, clientModel: client });
  const named = config.allowed_models?.filter((name) => name !== "*") ?? [];
  const everyModel = config.allowed_models === null || config.allowed_models.includes("*");
  const names = everyModel ? [...new Set([...keys].flatMap((key) => [...(key.models ?? []), ...key.aliases.keys()]))] : named;
  for (const name of names) {
    const bare = name.startsWith(`${provider.name}/`) ? name.slice(provider.name.length + 1) : name;
    if (!allowsModel(config, bare)) continue;
    for (const target of targetsOf(provider, bare)) {
      if (keys.has(target.key) && !price(target.key, target.upstreamModel, bare)) {
        warnings.push(`model '${provider.name}/${bare}' (served as '${target.upstreamModel}' by key '${target.key.name}') has no price: under this key's budget its requests will be refused until it is priced (POST /api/governance/pricing-overrides)`);
      }
    }
  }
  if (everyModel) {
    for (const key of keys) {
      if (key.models === null && !price(key, ANY_MODEL, ANY_MODEL)) {
        warnings.push(`key '${key.name}' of provider '${provider.name}' serves any model name, and not every name has a price: under this key's budget requests for unpriced models will be refused; price them, or add a wildcard pricing override (pattern "*")`);
      }
    }
  }
  return warnings;
}

export function unpricedModelWarnings(table: RoutingTable, vk: VirtualKeyRecord): string[] {
  const warnings: string[] = [];
  // The key's team's or customer's budget applies to its requests as much as its own.
  const { team, customer } = groupsOfKey(table, vk);
  const groupBudget = team?.budgeted === true || customer?.budgeted === true;
  for (const config of vk.provider_configs) {
    if (!groupBudget && vk.budgets.length === 0 && config.budgets.length === 0) continue;
    const provider = table.providers.get(config.provider);
    if (provider) warnings.push(...unpricedFor(table, vk, config, provider));
  }
  return [...new Set(warnings)];
}
