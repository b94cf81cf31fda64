/**
 * Bifrost-shaped virtual keys, budgets, rate limits and pricing overrides. Strict like the provider schemas: an
 * unknown field is a 400 that names it. The singular `budget` that tutorials use is accepted as one budget.
 */
import { z } from "zod";
import { providerName } from "../config/schema";
import { calendarUnit, parseDuration } from "./duration";

const duration = z.string().refine((value) => parseDuration(value) !== undefined, "must be a duration such as 30s, 5m, 1h, 1d, 1w, 1M or 1Y");

export const budgetSchema = z
  .strictObject({
    id: z.string().min(1).max(128).optional(),
    max_limit: z.number().min(0, "max_limit must not be negative"),
    reset_duration: duration,
    calendar_aligned: z.boolean().optional(),
    // Read-only state that GET answers carry; accepted so an answer can be sent back, never written.
    current_usage: z.number().optional(),
    last_reset: z.unknown().optional(),
  })
  .refine((b) => !b.calendar_aligned || calendarUnit(b.reset_duration) !== undefined, {
    message: "calendar_aligned needs a reset_duration of 1d, 1w, 1M or 1Y",
    path: ["reset_duration"],
  });

export const rateLimitSchema = z
  .strictObject({
    id: z.string().optional(),
    request_max_limit: z.number().int().min(0).nullish(),
    request_reset_duration: duration.nullish(),
    token_max_limit: z.number().int().min(0).nullish(),
    token_reset_duration: duration.nullish(),
    calendar_aligned: z.boolean().optional(),
    // Read-only state, as for budgets.
    request_current_usage: z.number().optional(),
    token_current_usage: z.number().optional(),
    request_last_reset: z.unknown().optional(),
    token_last_reset: z.unknown().optional(),
  })
  .refine((r) => (r.request_max_limit == null) === (r.request_reset_duration == null), {
    message: "request_max_limit and request_reset_duration go together",
  })
  .refine((r) => (r.token_max_limit == null) === (r.token_reset_duration == null), {
    message: "token_max_limit and token_reset_duration go together",
  });

export const providerConfigSchema = z.strictObject({
  id: z.string().min(1).max(128).optional(),
  provider: providerName,
  weight: z.number().min(0).nullish(),
  allowed_models: z.array(z.string().min(1)).optional(),
  key_ids: z.array(z.string().min(1)).optional(),
  budgets: z.array(budgetSchema).optional(),
  budget: budgetSchema.optional(),
  rate_limit: rateLimitSchema.nullish(),
});

/** Body of POST and PUT /api/governance/virtual-keys. */
export const virtualKeyBodySchema = z.strictObject({
  name: z.string().min(1).max(128).optional(),
  description: z.string().max(1024).optional(),
  is_active: z.boolean().optional(),
  provider_configs: z.array(providerConfigSchema).max(100).optional(),
  budgets: z.array(budgetSchema).max(20).optional(),
  budget: budgetSchema.optional(),
  rate_limit: rateLimitSchema.nullish(),
  max_concurrent_requests: z.number().int().min(1).nullish(),
  /** A request whose own max_tokens does not fit what remains is admitted with a lower limit instead of refused. */
  lower_max_tokens_to_fit: z.boolean().optional(),
  /** Browser origins allowed to use the key (CORS); "*" for any. Browser requests from other origins are refused. */
  allowed_origins: z.array(z.string().refine((v) => v === "*" || (URL.canParse(v) && new URL(v).origin === v), "must be an origin such as https://app.example.com, or *")).max(100).optional(),
  /** Deprecated in Bifrost: applies calendar alignment to every budget that does not say otherwise. */
  calendar_aligned: z.boolean().optional(),
});

export type BudgetInput = z.infer<typeof budgetSchema>;
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
  created_at: string;
  updated_at: string;
}

const perToken = z.number().min(0).max(1);
const perMillion = z.number().min(0).max(1_000_000);

export const SCOPE_KINDS = ["global", "provider", "provider_key", "virtual_key"] as const;

/** A price for models matching a pattern, at one scope. Prices per 1M tokens, or Bifrost's per-token pricing_patch. */
export const pricingOverrideSchema = z
  .strictObject({
    name: z.string().min(1).max(128).optional(),
    scope_kind: z.enum(SCOPE_KINDS).default("global"),
    provider: providerName.optional(),
    provider_key_name: z.string().min(1).optional(),
    virtual_key_id: z.string().min(1).optional(),
    match_type: z.enum(["exact", "wildcard"]).default("exact"),
    pattern: z.string().min(1).max(512),
    request_types: z.array(z.string()).optional(),
    input_price_per_million: perMillion.optional(),
    output_price_per_million: perMillion.optional(),
    /** USD per second of audio (transcriptions, translations). */
    price_per_second: z.number().min(0).max(1000).optional(),
    pricing_patch: z
      .strictObject({ input_cost_per_token: perToken.optional(), output_cost_per_token: perToken.optional(), input_cost_per_second: z.number().min(0).max(1000).optional() })
      .optional(),
  })
  .refine((p) => p.match_type === "exact" || (p.pattern.endsWith("*") && p.pattern.indexOf("*") === p.pattern.length - 1), {
    message: "a wildcard pattern has exactly one *, at its end",
    path: ["pattern"],
  })
  .refine((p) => p.scope_kind === "global" || p.provider !== undefined || p.scope_kind === "virtual_key", {
    message: "provider and provider_key scopes need `provider`",
    path: ["provider"],
  })
  .refine((p) => p.scope_kind !== "provider_key" || p.provider_key_name !== undefined, {
    message: "provider_key scope needs `provider_key_name`",
    path: ["provider_key_name"],
  })
  .refine((p) => p.scope_kind !== "virtual_key" || p.virtual_key_id !== undefined, {
    message: "virtual_key scope needs `virtual_key_id`",
    path: ["virtual_key_id"],
  })
  .refine(
    (p) =>
      p.input_price_per_million !== undefined ||
      p.output_price_per_million !== undefined ||
      p.price_per_second !== undefined ||
      p.pricing_patch?.input_cost_per_token !== undefined ||
      p.pricing_patch?.output_cost_per_token !== undefined ||
      p.pricing_patch?.input_cost_per_second !== undefined,
    { message: "give input_price_per_million / output_price_per_million / price_per_second (or pricing_patch per token or per second)" },
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
