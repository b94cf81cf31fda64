/** Turns admin input into stored virtual-key records: ids for budgets and provider configs, strict consistency rules. */
import { badRequest } from "../http/errors";
import { alertSettingsOf } from "../alerts/config";
import { calendarUnit } from "./duration";
import { parseOrThrow } from "../config/validation";
import { budgetSchema, type Budget, type BudgetInput, type BudgetPatch, type ProviderConfig, type RateLimit, type RateLimitInput, type VirtualKeyBody, type VirtualKeyRecord } from "./schema";

/**
 * Bifrost's singular `budget`: `{}` removes the budget; a partial one (`{"max_limit": 75}`) changes the one budget
 * there is, keeping its other fields. The result must be a whole budget.
 */
function singleBudget(patch: BudgetPatch, previous: readonly Budget[], where: string): BudgetInput[] {
  const { current_usage: _usage, last_reset: _reset, ...given } = patch;
  const fields = Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined));
  if (Object.keys(fields).length === 0) return [];
  const whole = fields.max_limit !== undefined && fields.reset_duration !== undefined;
  if (!whole && previous.length !== 1) {
    throw badRequest(`${where}: budget needs max_limit and reset_duration${previous.length > 1 ? " (it has several budgets: change them with budgets)" : ""}`, "invalid_request", "budget");
  }
  const base = whole ? {} : previous[0];
  return [parseOrThrow(budgetSchema, { ...base, ...fields }, `${where} budget`)];
}

export function budgetsOf(
  list: BudgetInput[] | undefined,
  single: BudgetPatch | undefined,
  previous: readonly Budget[],
  where: string,
  calendarDefault = false,
): Budget[] | undefined {
  if (list !== undefined && single !== undefined) throw badRequest(`${where}: give either budgets or budget, not both`, "invalid_request", "budget");
  const inputs = list ?? (single ? singleBudget(single, previous, where) : undefined);
  if (inputs === undefined) return undefined;
  const seen = new Set<string>();
  return inputs.map((input) => {
    if (seen.has(input.reset_duration)) throw badRequest(`${where}: two budgets with reset_duration ${input.reset_duration}`, "invalid_request", "budgets");
    seen.add(input.reset_duration);
    const same = previous.find((b) => (input.id !== undefined ? b.id === input.id : b.reset_duration === input.reset_duration));
    return {
      id: input.id ?? same?.id ?? crypto.randomUUID(),
      max_limit: input.max_limit,
      reset_duration: input.reset_duration,
      // Bifrost's deprecated key-wide flag aligns the budgets that can be aligned; the others stay rolling.
      calendar_aligned: input.calendar_aligned ?? (calendarDefault && calendarUnit(input.reset_duration) !== undefined),
    };
  });
}

export function rateLimitOf(input: RateLimitInput | null | undefined): RateLimit | null | undefined {
  if (input === undefined) return undefined;
  if (input === null || (input.request_max_limit == null && input.token_max_limit == null)) return null;
  return {
    request_max_limit: input.request_max_limit ?? null,
    request_reset_duration: input.request_reset_duration ?? null,
    token_max_limit: input.token_max_limit ?? null,
    token_reset_duration: input.token_reset_duration ?? null,
    calendar_aligned: input.calendar_aligned ?? false,
  };
}

/** The keys a provider config allows (null: all): `allow_all_keys` true is all, false is exactly the listed ones. */
function keyIdsOf(input: { key_ids?: string[] | null | undefined; allow_all_keys?: boolean | undefined }): string[] | null {
  if (input.allow_all_keys === true) return null;
  return input.key_ids ?? (input.allow_all_keys === false ? [] : null);
}

function providerConfigsOf(body: VirtualKeyBody, previous: readonly ProviderConfig[]): ProviderConfig[] | undefined {
  if (body.provider_configs === undefined) return undefined;
  const seen = new Set<string>();
  return body.provider_configs.map((input, index) => {
    if (seen.has(input.provider)) throw badRequest(`provider_configs: provider '${input.provider}' is listed twice`, "invalid_request", "provider_configs");
    seen.add(input.provider);
    const same = previous.find((c) => (input.id !== undefined ? c.id === input.id : c.provider === input.provider));
    const where = `provider_configs[${index}]`;
    return {
      id: input.id ?? same?.id ?? crypto.randomUUID(),
      provider: input.provider,
      weight: input.weight ?? null,
      allowed_models: input.allowed_models ?? null,
      key_ids: keyIdsOf(input),
      blacklisted_models: input.blacklisted_models ?? [],
      budgets: budgetsOf(input.budgets, input.budget, same?.budgets ?? [], where) ?? same?.budgets ?? [],
      rate_limit: rateLimitOf(input.rate_limit) ?? (input.rate_limit === null ? null : (same?.rate_limit ?? null)),
    };
  });
}

/** How a key's value is shown after it was created: its first 8 and last 4 characters, never more. */
export function shownValue(value: string): string {
  return `${value.slice(0, 8)}…${value.slice(-4)}`;
}

export interface KeyIdentity {
  id: string;
  valueHash: string;
  valuePrefix: string;
}

/** A new record, or `previous` with the fields present in `body` replaced (`budgets` replaces the whole set). */
export function buildVirtualKeyRecord(identity: KeyIdentity, body: VirtualKeyBody, previous: VirtualKeyRecord | null): VirtualKeyRecord {
  const now = new Date().toISOString();
  const teamId = body.team_id === undefined ? previous?.team_id : body.team_id;
  const customerId = body.customer_id === undefined ? previous?.customer_id : body.customer_id;
  // Bifrost's rule: a key belongs to a team (and through it to the team's customer) or to a customer, not both.
  if (teamId && customerId) throw badRequest("a virtual key belongs to a team or to a customer, not both: give team_id or customer_id", "invalid_request", "team_id");
  const rateLimit = rateLimitOf(body.rate_limit);
  return {
    id: identity.id,
    name: body.name ?? previous?.name ?? identity.id,
    description: body.description ?? previous?.description ?? "",
    is_active: body.is_active ?? previous?.is_active ?? true,
    value_hash: identity.valueHash,
    value_prefix: identity.valuePrefix,
    provider_configs: providerConfigsOf(body, previous?.provider_configs ?? []) ?? previous?.provider_configs ?? [],
    budgets: budgetsOf(body.budgets, body.budget, previous?.budgets ?? [], "virtual key", body.calendar_aligned) ?? previous?.budgets ?? [],
    rate_limit: rateLimit === undefined ? (previous?.rate_limit ?? null) : rateLimit,
    max_concurrent_requests: body.max_concurrent_requests === undefined ? (previous?.max_concurrent_requests ?? null) : body.max_concurrent_requests,
    allowed_origins: body.allowed_origins ?? previous?.allowed_origins ?? [],
    lower_max_tokens_to_fit: body.lower_max_tokens_to_fit ?? previous?.lower_max_tokens_to_fit ?? false,
    response_cache:
      body.response_cache === undefined
        ? (previous?.response_cache ?? null)
        : body.response_cache && { ttl_seconds: body.response_cache.ttl_seconds, shared_across_keys: body.response_cache.shared_across_keys ?? false },
    team_id: body.team_id === undefined ? (previous?.team_id ?? null) : body.team_id,
    customer_id: body.customer_id === undefined ? (previous?.customer_id ?? null) : body.customer_id,
    lease_share: body.lease_share === undefined ? (previous?.lease_share ?? null) : body.lease_share,
    alerts: alertSettingsOf(body.alerts, previous?.alerts),
    expires_at: body.expires_at === undefined ? (previous?.expires_at ?? null) : body.expires_at,
    created_at: previous?.created_at ?? now,
    updated_at: now,
  };
}
