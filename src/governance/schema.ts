/**
 * Bifrost-shaped virtual keys, budgets, rate limits and pricing overrides. Strict like the provider schemas: an
 * unknown field is a 400 that names it. The singular `budget` that tutorials use is accepted as one budget.
 */
import * as z from "zod/mini";
import { providerName } from "../config/schema";
import { displayName } from "../config/validation";
import { calendarUnit, parseDuration } from "./duration";
import { alertsSchema, type AlertSettings } from "../alerts/config";

const duration = z.string().check(z.refine((value) => parseDuration(value) !== undefined, "must be a duration such as 30s, 5m, 1h, 1d, 1w, 1M or 1Y, at most 1000Y"));

/**
 * The largest budget, in USD: a quadrillion dollars, far past any real spend (budgets such as 1e9 are how "no limit"
 * is often written). Limits are counted in nano-dollars, and a larger one — 1e300 — is no longer a finite number
 * of them, so its remaining amount could not even be written in JSON.
 */
export const MAX_BUDGET_USD = 1e15;

/** A dollar limit: a budget's, or an ephemeral token's sub-budget. */
export const dollarLimit = z.number().check(z.gte(0, "max_limit must not be negative"), z.lte(MAX_BUDGET_USD, "max_limit must be at most 1e15 (USD)"));

export const budgetSchema = z
  .strictObject({
    id: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
    max_limit: dollarLimit,
    reset_duration: duration,
    calendar_aligned: z.optional(z.boolean()),
    // Read-only state that GET answers carry; accepted so an answer can be sent back, never written.
    current_usage: z.optional(z.number()),
    last_reset: z.optional(z.unknown()),
  })
  .check(
    z.refine((b) => !b.calendar_aligned || calendarUnit(b.reset_duration) !== undefined, {
      message: "calendar_aligned needs a reset_duration of 1d, 1w, 1M or 1Y",
      path: ["reset_duration"],
    }),
  );

/**
 * Bifrost's singular `budget` on an update: every field optional. `{}` removes the budget; a partial one changes the
 * single budget there is (records.ts checks the result as a whole budget).
 */
export const budgetPatchSchema = z.strictObject({
  id: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
  max_limit: z.optional(dollarLimit),
  reset_duration: z.optional(duration),
  calendar_aligned: z.optional(z.boolean()),
  current_usage: z.optional(z.number()),
  last_reset: z.optional(z.unknown()),
});

export const rateLimitSchema = z
  .strictObject({
    id: z.optional(z.string()),
    request_max_limit: z.nullish(z.int().check(z.gte(0))),
    request_reset_duration: z.nullish(duration),
    token_max_limit: z.nullish(z.int().check(z.gte(0))),
    token_reset_duration: z.nullish(duration),
    calendar_aligned: z.optional(z.boolean()),
    // Read-only state, as for budgets.
    request_current_usage: z.optional(z.number()),
    token_current_usage: z.optional(z.number()),
    request_last_reset: z.optional(z.unknown()),
    token_last_reset: z.optional(z.unknown()),
  })
  .check(
    z.refine((r) => (r.request_max_limit == null) === (r.request_reset_duration == null), {
      message: "request_max_limit and request_reset_duration go together",
    }),
    z.refine((r) => (r.token_max_limit == null) === (r.token_reset_duration == null), {
      message: "token_max_limit and token_reset_duration go together",
    }),
    // As for budgets: a window said to be aligned must be one that can be, rather than quietly rolling.
    z.refine((r) => !r.calendar_aligned || [r.request_reset_duration, r.token_reset_duration].every((d) => d == null || calendarUnit(d) !== undefined), {
      message: "calendar_aligned needs reset durations of 1d, 1w, 1M or 1Y",
      path: ["calendar_aligned"],
    }),
  );

/** A provider config's id: ours are strings; Bifrost's are integers, which scripts moved over send back as numbers. */
const providerConfigId = z.pipe(z.union([z.string().check(z.minLength(1), z.maxLength(128)), z.int().check(z.gte(0))]), z.transform(String));

export const providerConfigSchema = z.strictObject({
  id: z.optional(providerConfigId),
  provider: providerName,
  weight: z.nullish(z.number().check(z.gte(0))),
  /** null (as answers show "every model") is the same as leaving it out. */
  allowed_models: z.nullish(z.array(z.string().check(z.minLength(1)))),
  /** null (as answers show "every key") is the same as leaving it out. */
  key_ids: z.nullish(z.array(z.string().check(z.minLength(1)))),
  /** Bifrost's: models never used through this provider, whatever allowed_models says. */
  blacklisted_models: z.nullish(z.array(z.string().check(z.minLength(1)))),
  /** Bifrost's: true allows every key of the provider (key_ids then do not apply); false only those key_ids list. */
  allow_all_keys: z.optional(z.boolean()),
  budgets: z.optional(z.array(budgetSchema)),
  budget: z.optional(budgetPatchSchema),
  rate_limit: z.nullish(rateLimitSchema),
});

/** Whether an RFC 3339 time names a day the month has and a time of day that exists (Date.parse rolls 02-30 over). */
function isRealTime(value: string): boolean {
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = value.split(/[-T:.Z+]/).map(Number);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 && minute <= 59 && second <= 60 && !Number.isNaN(Date.parse(value));
}

/** A time as RFC 3339 (`2027-01-01T00:00:00Z`, with an offset or Z), kept as the ISO string of that instant. */
export const expiryTime = z.pipe(
  z.string().check(
    z.regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/, "must be an RFC 3339 time such as 2027-01-01T00:00:00Z"),
    z.refine(isRealTime, "must be a real date and time"),
  ),
  z.transform((value) => new Date(value).toISOString()),
);

/** A team's or customer's id. */
export const groupId = z.string().check(z.minLength(1), z.maxLength(128), z.regex(/^[A-Za-z0-9._:-]+$/, "letters, digits, '.', '_', ':' or '-'"));

/** The share of each limit isolates may lease to admit without a round trip (0: strict; null: the gateway default). */
export const leaseShare = z.number().check(z.gte(0), z.lte(0.5, "lease_share is at most 0.5"));

export const responseCacheSchema = z.strictObject({
  /** How long an answer is replayed. */
  ttl_seconds: z.int().check(z.gte(1), z.lte(7 * 86_400)),
  /** Share entries with every other key that shares them (default: this key's requests only). */
  shared_across_keys: z.optional(z.boolean()),
});

/** Body of POST and PUT /api/governance/virtual-keys. */
export const virtualKeyBodySchema = z.strictObject({
  // What answers carry about the key itself, accepted so a key read can be sent back as it is (virtual-keys.ts
  // refuses a value or id that differs from the key's; the times are the gateway's to keep).
  id: z.optional(z.string()),
  value: z.optional(z.string()),
  created_at: z.optional(z.string()),
  updated_at: z.optional(z.string()),
  name: z.optional(displayName),
  description: z.optional(z.string().check(z.maxLength(1024))),
  is_active: z.optional(z.boolean()),
  provider_configs: z.optional(z.array(providerConfigSchema).check(z.maxLength(100))),
  budgets: z.optional(z.array(budgetSchema).check(z.maxLength(20))),
  budget: z.optional(budgetPatchSchema),
  rate_limit: z.nullish(rateLimitSchema),
  max_concurrent_requests: z.nullish(z.int().check(z.gte(1))),
  /** A request whose own max_tokens does not fit what remains is admitted with a lower limit instead of refused. */
  lower_max_tokens_to_fit: z.optional(z.boolean()),
  /** Browser origins allowed to use the key (CORS); "*" for any. Browser requests from other origins are refused. */
  allowed_origins: z.optional(
    z
      .array(z.string().check(z.refine((v) => v === "*" || (URL.canParse(v) && new URL(v).origin === v), "must be an origin such as https://app.example.com, or *")))
      .check(z.maxLength(100)),
  ),
  /** Deprecated in Bifrost: applies calendar alignment to every budget that does not say otherwise. */
  calendar_aligned: z.optional(z.boolean()),
  /** Bifrost's MCP tool grants. The gateway runs no MCP tools: an empty list is accepted, a grant is refused, never dropped. */
  mcp_configs: z.optional(z.array(z.unknown()).check(z.maxLength(0, "mcp_configs must be empty: the gateway runs no MCP tools"))),
  /** Exact-match answers for deterministic requests (temperature 0 or a seed); null turns it off. */
  response_cache: z.nullish(responseCacheSchema),
  /** The team the key belongs to (its customer's limits apply too), or the customer it belongs to directly. */
  team_id: z.nullish(groupId),
  customer_id: z.nullish(groupId),
  lease_share: z.nullish(leaseShare),
  /** Webhooks told when usage crosses a threshold or a request is refused; null: the gateway's default. */
  alerts: z.nullish(alertsSchema),
  /** Bifrost's: when the key stops working (an RFC 3339 time); null: never. */
  expires_at: z.nullish(expiryTime),
  /** Bifrost's: on an update, every budget's spend in its current window goes back to zero. Not stored. */
  reset_budget_usage: z.optional(z.boolean()),
});

export type BudgetInput = z.infer<typeof budgetSchema>;
export type BudgetPatch = z.infer<typeof budgetPatchSchema>;
export type RateLimitInput = z.infer<typeof rateLimitSchema>;
export type VirtualKeyBody = z.infer<typeof virtualKeyBodySchema>;

export interface Budget {
  id: string;
  max_limit: number;
  reset_duration: string;
  calendar_aligned: boolean;
}

export interface RateLimit {
  request_max_limit: number | null;
  request_reset_duration: string | null;
  token_max_limit: number | null;
  token_reset_duration: string | null;
  calendar_aligned: boolean;
}

export interface ProviderConfig {
  id: string;
  provider: string;
  /** null: not part of weighted routing for bare model names. */
  weight: number | null;
  /** null: every model. */
  allowed_models: string[] | null;
  /** null: every key of the provider (ids or names). */
  key_ids: string[] | null;
  /** Models refused through this provider even when allowed_models allows them (absent in older records: none). */
  blacklisted_models?: string[];
  budgets: Budget[];
  rate_limit: RateLimit | null;
}

/** A virtual key as stored (the value itself only as its hash). */
export interface VirtualKeyRecord {
  id: string;
  name: string;
  description: string;
  is_active: boolean;
  value_hash: string;
  /** First characters of the value, so people can tell keys apart. */
  value_prefix: string;
  provider_configs: ProviderConfig[];
  budgets: Budget[];
  rate_limit: RateLimit | null;
  max_concurrent_requests: number | null;
  /** Lower a request's own completion limit to what remains instead of refusing it (absent in older records: false). */
  lower_max_tokens_to_fit?: boolean;
  allowed_origins: string[];
  /** Exact-match response cache (absent in older records: off). */
  response_cache?: { ttl_seconds: number; shared_across_keys: boolean } | null;
  /** Absent in older records: null. */
  team_id?: string | null;
  customer_id?: string | null;
  /** Absent or null: the gateway's LEASE_SHARE. */
  lease_share?: number | null;
  /** Absent or null: the gateway's default webhook and thresholds. */
  alerts?: AlertSettings | null;
  /** When the key stops working, ISO 8601; absent or null: never. */
  expires_at?: string | null;
  created_at: string;
  updated_at: string;
}

const perToken = z.number().check(z.gte(0), z.lte(1));
const perMillion = z.number().check(z.gte(0), z.lte(1_000_000));

/** JSON text read as its value; anything else (or text that is not JSON) left for the schema after to refuse. */
function parsedJsonText(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

/** Bifrost's per-token prices; its database keeps them as JSON text, which its exports carry as a string. */
const pricingPatch = z.pipe(
  z.transform(parsedJsonText),
  z.strictObject({ input_cost_per_token: z.optional(perToken), output_cost_per_token: z.optional(perToken), input_cost_per_second: z.optional(z.number().check(z.gte(0), z.lte(1000))) }),
);

export const SCOPE_KINDS = ["global", "provider", "provider_key", "virtual_key"] as const;

/** A price for models matching a pattern, at one scope. Prices per 1M tokens, or Bifrost's per-token pricing_patch. */
export const pricingOverrideSchema = z
  .strictObject({
    name: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
    scope_kind: z._default(z.enum(SCOPE_KINDS), "global"),
    provider: z.optional(providerName),
    /** Bifrost's name for `provider`. */
    provider_id: z.optional(providerName),
    provider_key_name: z.optional(z.string().check(z.minLength(1))),
    virtual_key_id: z.optional(z.string().check(z.minLength(1))),
    match_type: z._default(z.enum(["exact", "wildcard"]), "exact"),
    pattern: z.string().check(z.minLength(1), z.maxLength(512)),
    // Refused rather than dropped: an override limited to some request types, applied to all, would misprice the rest.
    request_types: z.optional(z.array(z.string()).check(z.maxLength(0, "request_types is not supported: an override prices every request type of its models; leave it out or empty"))),
    input_price_per_million: z.optional(perMillion),
    output_price_per_million: z.optional(perMillion),
    /** USD per second of audio (transcriptions, translations). */
    price_per_second: z.optional(z.number().check(z.gte(0), z.lte(1000))),
    pricing_patch: z.optional(pricingPatch),
  })
  .check(
    z.refine((p) => p.match_type === "exact" || (p.pattern.endsWith("*") && p.pattern.indexOf("*") === p.pattern.length - 1), {
      message: "a wildcard pattern has exactly one *, at its end",
      path: ["pattern"],
    }),
    z.refine((p) => p.scope_kind === "global" || p.provider !== undefined || p.provider_id !== undefined || p.scope_kind === "virtual_key", {
      message: "provider and provider_key scopes need `provider`",
      path: ["provider"],
    }),
    z.refine((p) => p.provider === undefined || p.provider_id === undefined || p.provider === p.provider_id, {
      message: "`provider` and `provider_id` (Bifrost's name for it) name different providers",
      path: ["provider_id"],
    }),
    z.refine((p) => p.scope_kind !== "provider_key" || p.provider_key_name !== undefined, {
      message: "provider_key scope needs `provider_key_name`",
      path: ["provider_key_name"],
    }),
    z.refine((p) => p.scope_kind !== "virtual_key" || p.virtual_key_id !== undefined, {
      message: "virtual_key scope needs `virtual_key_id`",
      path: ["virtual_key_id"],
    }),
    z.refine(
      (p) =>
        p.input_price_per_million !== undefined ||
        p.output_price_per_million !== undefined ||
        p.price_per_second !== undefined ||
        p.pricing_patch?.input_cost_per_token !== undefined ||
        p.pricing_patch?.output_cost_per_token !== undefined ||
        p.pricing_patch?.input_cost_per_second !== undefined,
      { message: "give input_price_per_million / output_price_per_million / price_per_second (or pricing_patch per token or per second)" },
    ),
  );

export type PricingOverrideInput = z.infer<typeof pricingOverrideSchema>;

export interface PricingOverride {
  id: string;
  name: string;
  scope_kind: (typeof SCOPE_KINDS)[number];
  provider: string | null;
  provider_key_name: string | null;
  virtual_key_id: string | null;
  match_type: "exact" | "wildcard";
  pattern: string;
  /** USD per 1M tokens. */
  input_price_per_million: number;
  output_price_per_million: number;
  /** USD per second of audio; absent in older rules (0). */
  price_per_second?: number;
}
