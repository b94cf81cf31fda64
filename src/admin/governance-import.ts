/**
 * The `governance` section of a Bifrost config.json: virtual keys, with their budgets and rate limits given as
 * top-level lists linked by id. Each key becomes a record like one created through the API; a key without a
 * `value` gets a fresh one, returned once in the import's answer.
 */
import * as z from "zod/mini";
import type { Env } from "../env";
import { badRequest } from "../http/errors";
import { limiterFor } from "../governance/admission";
import { VIRTUAL_KEY_PREFIX } from "../governance/credentials";
import { hashKeyValue, loadVirtualKey, saveVirtualKey } from "../governance/key-store";
import { limiterConfigOf } from "../governance/limits";
import { buildVirtualKeyRecord, shownValue } from "../governance/records";
import { budgetSchema, expiryTime, leaseShare, responseCacheSchema, pricingOverrideSchema, providerConfigSchema, rateLimitSchema, type VirtualKeyBody } from "../governance/schema";
import { normalisePricingOverride, writePricingOverride } from "./pricing";
import { loadGroup, saveGroup } from "../governance/group-store";
import { buildGroupRecord, type GroupKind } from "../governance/groups";
import { installGroupLimits } from "./groups";
import { envReferenceProblem, isEnvReference } from "../upstream/secrets";

/** Bifrost files may number their ids; they are strings here. */
const id = z.string().check(z.minLength(1), z.maxLength(128));

function stringifyIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stringifyIds);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [key, (key === "id" || key.endsWith("_id")) && typeof inner === "number" ? String(inner) : stringifyIds(inner)]),
  );
}

const MIN_VALUE_LENGTH = 24;

/** What Bifrost's export carries about its own database rows: accepted, not kept. */
const rowBookkeeping = { config_hash: z.optional(z.unknown()), created_at: z.optional(z.unknown()), updated_at: z.optional(z.unknown()) };

/** Bifrost's exported provider config lists its allowed keys as rows; their ids (or names) are this gateway's key_ids. */
const exportedKeyRow = z.looseObject({ key_id: z.optional(z.string()), name: z.optional(z.string()) });

const importedBudget = z.safeExtend(budgetSchema, { virtual_key_id: z.optional(id), provider_config_id: z.optional(id), team_id: z.optional(id), customer_id: z.optional(id) });
const importedRateLimit = z.safeExtend(rateLimitSchema, { id });
const importedProviderConfig = z.safeExtend(providerConfigSchema, {
  rate_limit_id: z.optional(id),
  virtual_key_id: z.optional(z.unknown()),
  keys: z.optional(z.array(exportedKeyRow)),
  ...rowBookkeeping,
});
/** A Bifrost pricing override row, as its config.json and API carry it (timestamps and hash are its database's, not kept). */
const importedPricingOverride = z.safeExtend(pricingOverrideSchema, { id, created_at: z.optional(z.unknown()), updated_at: z.optional(z.unknown()), config_hash: z.optional(z.unknown()) });

const importedKey = z.strictObject({
  id,
  name: z.string().check(z.minLength(1), z.maxLength(128)),
  description: z.optional(z.string()),
  /**
   * A credential: long enough not to be guessed, like the sk-bf-<uuid> values the gateway generates — or, as Bifrost
   * allows, `env.NAME` naming the Worker secret that holds it (read at import; only its hash is stored).
   */
  value: z.optional(
    z.string().check(
      z.maxLength(256),
      z.refine((value) => !value.startsWith("vault."), "vault references are not supported: give the value, or env.NAME naming a Worker secret that holds it"),
      z.refine((value) => isEnvReference(value) || value.length >= MIN_VALUE_LENGTH, `a virtual key value must be at least ${MIN_VALUE_LENGTH} characters`),
    ),
  ),
  /** Bifrost's: applies to the key's budgets that do not say. */
  calendar_aligned: z.optional(z.boolean()),
  expires_at: z.nullish(expiryTime),
  ...rowBookkeeping,
  is_active: z.optional(z.boolean()),
  rate_limit_id: z.optional(id),
  provider_configs: z.optional(z.array(importedProviderConfig)),
  team_id: z.optional(id),
  customer_id: z.optional(id),
  mcp_configs: z.optional(z.array(z.unknown())),
  allowed_origins: z.optional(z.array(z.string())),
  max_concurrent_requests: z.optional(z.int().check(z.gte(1))),
  // This gateway's own key settings, so its export (config-export.ts) imports back as it was.
  lower_max_tokens_to_fit: z.optional(z.boolean()),
  response_cache: z.nullish(responseCacheSchema),
  lease_share: z.nullish(leaseShare),
});

/** Team fields Bifrost keeps for its own dashboard and SSO, which this gateway does not use. */
const UNUSED_TEAM_FIELDS = ["profile", "config", "claims"] as const;

/**
 * Bifrost's team and customer rows: limits are linked by id (`budget_id`, `rate_limit_id`, budgets' `team_id`) or,
 * for customers, given inline (`budgets`). Unknown fields are refused, never dropped.
 */
const importedGroup = z.strictObject({
  id,
  name: z.string().check(z.minLength(1), z.maxLength(128)),
  description: z.optional(z.string().check(z.maxLength(1024))),
  customer_id: z.nullish(id),
  budget_id: z.nullish(id),
  budgets: z.optional(z.array(budgetSchema)),
  rate_limit_id: z.nullish(id),
  lease_share: z.nullish(leaseShare),
  /** Applies to the group's budgets that do not say. */
  calendar_aligned: z.optional(z.boolean()),
  profile: z.optional(z.unknown()),
  config: z.optional(z.unknown()),
  claims: z.optional(z.unknown()),
  ...rowBookkeeping,
});

export const governanceSchema = z.pipe(
  z.transform(stringifyIds),
  z.looseObject({
    virtual_keys: z.optional(z.array(importedKey)),
    budgets: z.optional(z.array(importedBudget)),
    rate_limits: z.optional(z.array(importedRateLimit)),
    teams: z.optional(z.array(importedGroup)),
    customers: z.optional(z.array(importedGroup)),
    pricing_overrides: z.optional(z.array(importedPricingOverride)),
  }),
);

export type GovernanceSection = z.infer<typeof governanceSchema>;

/** A budget that does not say whether it resets on calendar boundaries takes its owner's setting (Bifrost's). */
function alignedAs<T extends { calendar_aligned?: boolean | undefined }>(budget: T, ownerAligned: boolean | undefined): T {
  return budget.calendar_aligned === undefined && ownerAligned !== undefined ? { ...budget, calendar_aligned: ownerAligned } : budget;
}

/** A key's value: as given, or read from the Worker secret `env.NAME` names. Refused (400) when it cannot be used. */
function virtualKeyValue(env: Env, keyName: string, value: string): string {
  if (!isEnvReference(value)) return value;
  const name = value.slice("env.".length);
  const refuse = (why: string) => {
    throw badRequest(`virtual key '${keyName}': its value ${why}`, "invalid_request", "governance.virtual_keys");
  };
  const problem = envReferenceProblem(value);
  if (problem) refuse(`names ${problem}`);
  const resolved: unknown = Object.hasOwn(env, name) ? (env as unknown as Record<string, unknown>)[name] : undefined;
  if (typeof resolved !== "string" || resolved === "") return refuse(`refers to env.${name}, which is not set in the gateway's environment`);
  if (resolved.length < MIN_VALUE_LENGTH || resolved.length > 256) refuse(`refers to env.${name}, which must hold ${MIN_VALUE_LENGTH} to 256 characters`);
  return resolved;
}

export interface GovernanceImport {
  imported: string[];
  teams: string[];
  customers: string[];
  /** Names of the pricing overrides written (each keeps the file's id, so importing again replaces it). */
  pricingOverrides: string[];
  /** Values generated for keys the file gave none, shown once. */
  generatedValues: Record<string, string>;
  warnings: string[];
}

/** Checks the links between keys, teams, customers, budgets and rate limits before anything is written. */
export async function checkGovernanceLinks(env: Env, section: GovernanceSection): Promise<void> {
  const known = new Set((section.rate_limits ?? []).map((limit) => limit.id));
  const budgetIds = new Set((section.budgets ?? []).flatMap((budget) => (budget.id === undefined ? [] : [budget.id])));
  const refuse = (message: string, param: string) => {
    throw badRequest(message, "invalid_request", param);
  };
  const checkRateLimit = (owner: string, limitId: string | null | undefined) => {
    if (limitId != null && !known.has(limitId)) refuse(`${owner} refers to rate limit '${limitId}', which the file does not define`, "governance.rate_limits");
  };
  for (const key of section.virtual_keys ?? []) {
    if (key.value !== undefined) virtualKeyValue(env, key.name, key.value);
    for (const limitId of [key.rate_limit_id, ...(key.provider_configs ?? []).map((config) => config.rate_limit_id)]) checkRateLimit(`virtual key '${key.name}'`, limitId);
    if (key.team_id && key.customer_id) refuse(`virtual key '${key.name}' names both a team and a customer: a key belongs to one of them`, "governance.virtual_keys");
  }
  const groupIn = async (kind: GroupKind, groupId: string) => (kind === "team" ? section.teams : section.customers)?.some((group) => group.id === groupId) || (await loadGroup(env, kind, groupId)) !== null;
  for (const [kind, groups] of [["team", section.teams], ["customer", section.customers]] as const) {
    for (const group of groups ?? []) {
      checkRateLimit(`${kind} '${group.name}'`, group.rate_limit_id);
      if (group.budget_id != null && !budgetIds.has(group.budget_id)) refuse(`${kind} '${group.name}' refers to budget '${group.budget_id}', which the file does not define`, "governance.budgets");
      if (kind === "team" && group.customer_id && !(await groupIn("customer", group.customer_id))) refuse(`team '${group.name}' refers to customer '${group.customer_id}', which neither the file nor the gateway has`, "governance.teams");
    }
  }
  for (const key of section.virtual_keys ?? []) {
    if (key.team_id && !(await groupIn("team", key.team_id))) refuse(`virtual key '${key.name}' refers to team '${key.team_id}', which neither the file nor the gateway has`, "governance.virtual_keys");
    if (key.customer_id && !(await groupIn("customer", key.customer_id))) refuse(`virtual key '${key.name}' refers to customer '${key.customer_id}', which neither the file nor the gateway has`, "governance.virtual_keys");
  }
}

/** Teams and customers, customers first so a team's customer exists when the team is written. */
async function importGroups(env: Env, section: GovernanceSection, result: GovernanceImport): Promise<void> {
  const budgets = section.budgets ?? [];
  const rateLimits = new Map((section.rate_limits ?? []).map((limit) => [limit.id, limit]));
  for (const [kind, groups] of [["customer", section.customers], ["team", section.teams]] as const) {
    for (const group of groups ?? []) {
      const linked = budgets.filter((budget) => budget.id === group.budget_id || (kind === "team" ? budget.team_id === group.id : budget.customer_id === group.id));
      const owned = [...linked.map(({ virtual_key_id: _vk, provider_config_id: _pc, team_id: _t, customer_id: _c, ...rest }) => rest), ...(group.budgets ?? [])].map((budget) => alignedAs(budget, group.calendar_aligned));
      const unused = UNUSED_TEAM_FIELDS.filter((field) => group[field] !== undefined);
      if (unused.length > 0) result.warnings.push(`${kind} '${group.name}': ${unused.join(", ")} ${unused.length === 1 ? "was" : "were"} not imported: the gateway does not use them`);
      const limit = group.rate_limit_id != null ? rateLimits.get(group.rate_limit_id) : undefined;
      const previous = await loadGroup(env, kind, group.id);
      const record = buildGroupRecord(kind, group.id, {
        name: group.name,
        description: group.description,
        customer_id: kind === "team" ? (group.customer_id ?? null) : undefined,
        budgets: owned,
        rate_limit: limit ? (({ id: _id, ...rest }) => rest)(limit) : null,
        lease_share: group.lease_share,
      }, previous);
      await saveGroup(env, record);
      await installGroupLimits(env, record, kind, record.id);
      (kind === "team" ? result.teams : result.customers).push(record.name);
    }
  }
}

export async function importGovernance(env: Env, section: GovernanceSection): Promise<GovernanceImport> {
  const result: GovernanceImport = { imported: [], teams: [], customers: [], pricingOverrides: [], generatedValues: {}, warnings: [] };
  for (const other of Object.keys(section)) {
    if (!["virtual_keys", "budgets", "rate_limits", "teams", "customers", "pricing_overrides"].includes(other)) result.warnings.push(`governance.${other} was not imported: the gateway does not support it`);
  }
  await importGroups(env, section, result);
  for (const override of section.pricing_overrides ?? []) {
    const rule = normalisePricingOverride(override.id, override);
    // Published with the rest of the import, once (config-import.ts).
    await writePricingOverride(env, rule);
    result.pricingOverrides.push(rule.name);
  }
  const rateLimits = new Map((section.rate_limits ?? []).map((limit) => [limit.id, limit]));
  const budgets = section.budgets ?? [];
  for (const key of section.virtual_keys ?? []) {
    if (key.mcp_configs?.length) result.warnings.push(`virtual key '${key.name}': mcp_configs were not imported`);
    const rateLimitOf = (limitId: string | undefined) => {
      if (limitId === undefined) return undefined;
      const limit = rateLimits.get(limitId);
      if (!limit) return undefined; // checkGovernanceLinks has refused such files already
      const { id: _id, ...rest } = limit;
      return rest;
    };
    const strip = ({ virtual_key_id: _vk, provider_config_id: _pc, team_id: _t, customer_id: _c, ...rest }: (typeof budgets)[number]) => rest;
    const body: VirtualKeyBody = {
      name: key.name,
      description: key.description,
      is_active: key.is_active,
      rate_limit: rateLimitOf(key.rate_limit_id),
      budgets: budgets.filter((b) => b.virtual_key_id === key.id).map((b) => alignedAs(strip(b), key.calendar_aligned)),
      provider_configs: (key.provider_configs ?? []).map(({ rate_limit_id, virtual_key_id: _vk, keys, config_hash: _h, created_at: _c, updated_at: _u, ...config }) => ({
        ...config,
        id: config.id,
        // Bifrost's exported rows list the allowed keys; key_ids say the same here.
        key_ids: config.key_ids ?? (keys && config.allow_all_keys !== true ? keys.flatMap((row) => row.key_id ?? row.name ?? []) : undefined),
        rate_limit: rateLimitOf(rate_limit_id) ?? config.rate_limit,
        budgets: (config.id === undefined ? (config.budgets ?? []) : [...(config.budgets ?? []), ...budgets.filter((b) => b.provider_config_id === config.id).map(strip)]).map((b) => alignedAs(b, key.calendar_aligned)),
      })),
      allowed_origins: key.allowed_origins,
      max_concurrent_requests: key.max_concurrent_requests,
      lower_max_tokens_to_fit: key.lower_max_tokens_to_fit,
      response_cache: key.response_cache,
      lease_share: key.lease_share,
      team_id: key.team_id ?? null,
      customer_id: key.customer_id ?? null,
      expires_at: key.expires_at,
    };
    const previous = await loadVirtualKey(env, key.id);
    let value = key.value === undefined ? undefined : virtualKeyValue(env, key.name, key.value);
    if (!value && !previous) {
      value = `${VIRTUAL_KEY_PREFIX}${crypto.randomUUID()}`;
      result.generatedValues[key.name] = value;
    }
    const identity = value
      ? { id: key.id, valueHash: await hashKeyValue(value), valuePrefix: shownValue(value) }
      : { id: key.id, valueHash: previous?.value_hash ?? "", valuePrefix: previous?.value_prefix ?? "" };
    const record = buildVirtualKeyRecord(identity, body, previous);
    await saveVirtualKey(env, record, previous?.value_hash);
    await limiterFor(env, record).configure(limiterConfigOf(record));
    result.imported.push(key.name);
  }
  return result;
}
