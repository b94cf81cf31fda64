/**
 * GET /api/config/export: the whole configuration as a config.json that POST /api/config/import takes back — its
 * providers (secrets masked, as GET /api/config shows them: importing keeps the stored ones) and its governance in
 * Bifrost's linked form: virtual keys, teams and customers, their budgets and rate limits as top-level lists linked
 * by id, and the pricing overrides. What cannot leave the gateway is left out: virtual-key values (only their hashes
 * are kept, so a key imported elsewhere gets a new value, and here keeps its own) and alert webhook settings.
 */
import type { Env } from "../env";
import { loadPricing, loadProviders } from "../config/store";
import { loadAllGroups } from "../governance/group-store";
import type { GroupRecord } from "../governance/groups";
import { EVERY_KEY, listVirtualKeys } from "../governance/key-store";
import type { Budget, PricingOverride, RateLimit, VirtualKeyRecord } from "../governance/schema";
import { presentKey, presentSettings } from "./present";

type Json = Record<string, unknown>;

/** The providers as GET /api/config shows them. */
export async function exportedProviders(env: Env): Promise<Json> {
  return Object.fromEntries((await loadProviders(env)).map((record) => [record.name, { ...presentSettings(record.settings), keys: record.keys.map(presentKey) }]));
}

/** Gathers budgets and rate limits into the top-level lists Bifrost links them from. */
class LinkedLimits {
  readonly budgets: Json[] = [];
  readonly rateLimits: Json[] = [];

  budgetsOf(budgets: readonly Budget[], link: Json): void {
    for (const budget of budgets) this.budgets.push({ ...budget, ...link });
  }

  /** The rate limit's id in the file (named after its owner), or undefined when there is none. */
  rateLimitOf(limit: RateLimit | null, owner: string): string | undefined {
    if (!limit) return undefined;
    const id = `rate-limit-${owner}`;
    this.rateLimits.push({ id, ...limit });
    return id;
  }
}

function exportedKey(record: VirtualKeyRecord, limits: LinkedLimits): Json {
  limits.budgetsOf(record.budgets, { virtual_key_id: record.id });
  return {
    id: record.id,
    name: record.name,
    description: record.description,
    is_active: record.is_active,
    ...(record.expires_at ? { expires_at: record.expires_at } : {}),
    ...(record.team_id ? { team_id: record.team_id } : {}),
    ...(record.customer_id ? { customer_id: record.customer_id } : {}),
    rate_limit_id: limits.rateLimitOf(record.rate_limit, `key-${record.id}`),
    provider_configs: record.provider_configs.map((config) => {
      limits.budgetsOf(config.budgets, { provider_config_id: config.id });
      return {
        id: config.id,
        provider: config.provider,
        weight: config.weight,
        allowed_models: config.allowed_models,
        key_ids: config.key_ids,
        blacklisted_models: config.blacklisted_models ?? [],
        rate_limit_id: limits.rateLimitOf(config.rate_limit, `config-${config.id}`),
      };
    }),
    allowed_origins: record.allowed_origins,
    ...(record.max_concurrent_requests !== null ? { max_concurrent_requests: record.max_concurrent_requests } : {}),
    lower_max_tokens_to_fit: record.lower_max_tokens_to_fit ?? false,
    response_cache: record.response_cache ?? null,
    lease_share: record.lease_share ?? null,
  };
}

function exportedGroup(record: GroupRecord, limits: LinkedLimits): Json {
  return {
    id: record.id,
    name: record.name,
    description: record.description,
    ...(record.kind === "team" ? { customer_id: record.customer_id } : {}),
    budgets: record.budgets,
    rate_limit_id: limits.rateLimitOf(record.rate_limit, `${record.kind}-${record.id}`),
    lease_share: record.lease_share,
  };
}

/** A stored override as the import takes it: its null scope fields left out. */
function exportedOverride(rule: PricingOverride): Json {
  return Object.fromEntries(Object.entries(rule).filter(([, value]) => value !== null));
}

export async function exportConfig(env: Env): Promise<Json> {
  const limits = new LinkedLimits();
  const [providers, keys, groups, overrides] = await Promise.all([
    exportedProviders(env),
    listVirtualKeys(env, { limit: EVERY_KEY, offset: 0 }),
    loadAllGroups(env),
    loadPricing(env),
  ]);
  const virtualKeys = keys.records.map((record) => exportedKey(record, limits));
  const byKind = (kind: GroupRecord["kind"]) => groups.filter((group) => group.kind === kind).map((group) => exportedGroup(group, limits));
  const customers = byKind("customer");
  const teams = byKind("team");
  return {
    providers,
    governance: {
      virtual_keys: virtualKeys,
      teams,
      customers,
      budgets: limits.budgets,
      rate_limits: limits.rateLimits,
      pricing_overrides: overrides.map(exportedOverride),
    },
  };
}
