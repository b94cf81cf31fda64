/** What a virtual key's Durable Object enforces, and the messages it exchanges with the Worker. */
import type { AlertSettings } from "../alerts/config";
import type { EntityKind } from "../alerts/event";
import type { Budget, RateLimit, VirtualKeyRecord } from "./schema";

/** The scope of limits that belong to the virtual key itself (others are provider-config ids). */
export const KEY_SCOPE = "vk";

export interface ScopedBudget extends Budget {
  scope: string;
}

export interface ScopedRateLimit extends RateLimit {
  scope: string;
}

export interface LimiterConfig {
  name: string;
  /** Who the limits belong to, for refusal messages: "virtual key" (absent), "team 'research'", "customer 'acme'". */
  owner?: string;
  /**
   * The share of each limit that isolates may hold as leases at once (0: every request asks the object). What an
   * isolate that dies had admitted from its lease but not yet reported is the only possible overspend: at most this
   * share of each limit.
   */
  leaseShare?: number;
  active: boolean;
  maxConcurrent: number | null;
  /** A request whose own completion limit does not fit is admitted with a lower one instead of refused. */
  lowerExplicitLimits?: boolean;
  budgets: ScopedBudget[];
  rateLimits: ScopedRateLimit[];
  /** Whose limits these are, as alerts name them (absent in configs installed before alerts: they send none). */
  entity?: { kind: EntityKind; id: string };
  /** null or absent: the gateway's default webhook and thresholds. */
  alerts?: AlertSettings | null;
}

export interface AdmitRequest {
  /** The provider config the request was routed through, whose own limits apply too. */
  scope: string | null;
  /** Estimated prompt tokens (settlement uses the origin's count). */
  promptTokens: number;
  /** Completion tokens per choice the request asks for: its own limit, or the gateway's default reservation. */
  completionTokens: number;
  /** Choices generated (`n`, `best_of`): every limit reserves completionTokens × choices. */
  choices: number;
  /** The client set no completion limit: the grant may be lowered to what remains, down to minCompletionTokens. */
  flexible: boolean;
  /** The least completion per choice worth admitting a lowered request for. */
  minCompletionTokens: number;
  /** Nano-dollars the request costs whatever it generates: its prompt, its audio seconds. */
  fixedNanos: number;
  /** Nano-dollars per completion token. */
  nanosPerCompletionToken: number;
  /** When an unrenewed reservation is given up (a crashed request must not hold budget). */
  ttlMs: number;
  /** The ephemeral token the request came with: its revocation, sub-budget and request window apply too. */
  token?: TokenScope | undefined;
}

export interface TokenScope {
  id: string;
  /** Issued-at, milliseconds. */
  iat: number;
  /** Expiry, seconds. */
  exp: number;
  budget?: number | undefined;
  rate?: { max: number; window: string } | undefined;
}

export type DenialStatus = 400 | 401 | 402 | 403 | 429;

export type AdmitDecision =
  | { ok: true; reservationId: string; /** Completion tokens per choice the origin may generate. */ completionTokens: number }
  | {
      ok: false;
      status: DenialStatus;
      type: string;
      message: string;
      retryAfterSeconds: number | null;
      headers: Record<string, string>;
      param?: string | null;
      /** The limiter holds no configuration: its key was deleted, or its team or customer has no limits (any more). */
      unconfigured?: true;
    };

/** One of the operations a grouped call carries (limiter-line.ts), applied in order. */
export type LimiterOp =
  | { kind: "admit"; request: AdmitRequest }
  | { kind: "settle"; requests: SettleRequest[] }
  | { kind: "renew"; reservationIds: string[]; ttlMs: number };

/** An admission's decision, null for a settlement or a renewal, or why the object could not apply the operation. */
export type LimiterOpResult = AdmitDecision | null | { error: string };

export interface SettleRequest {
  reservationId: string;
  scope: string | null;
  tokens: number;
  /** Nano-dollars: money is counted in integers so sums are exact. */
  nanos: number;
  /** The ephemeral token whose sub-budget is charged too. */
  tokenId?: string | undefined;
  /** Another level refused the request: it was never made, so its request windows do not count it. */
  withdrawn?: boolean;
}

/** Per unit: what an isolate may admit from a lease (null: no limit applies, so no bound). */
export interface LeaseAmounts {
  requests: number | null;
  tokens: number | null;
  /** Nano-dollars. */
  nanos: number | null;
  /** Requests running at once. */
  slots: number | null;
}

/** Settled usage an isolate admitted from its lease and reports back. */
export interface LeaseUsage {
  requests: number;
  tokens: number;
  nanos: number;
}

/** What requests admitted from the lease and still running hold: their worst case. */
export interface LeaseInFlight {
  tokens: number;
  nanos: number;
  slots: number;
}

export interface LeaseWant {
  requests: number;
  tokens: number;
  nanos: number;
  slots: number;
}

export interface LeaseRequest {
  /** The lease being renewed (null: a new one). */
  leaseId: string | null;
  /** The provider config the lease admits for (null: the limiter's own limits only, as for teams and customers). */
  scope: string | null;
  used: LeaseUsage;
  inFlight: LeaseInFlight;
  /** Headroom the isolate asks for beyond its in-flight requests: about what its traffic needs until the next renewals. */
  want: LeaseWant;
  ttlMs: number;
}

export type LeaseReply =
  | { ok: true; leaseId: string; /** What the object holds for the lease, in-flight included. */ hold: LeaseAmounts; expiresAt: number }
  /** The limiter is gone or inactive, or lets no lease out: admit through the object. */
  | { ok: false; reason: "no_limiter" | "inactive" | "strict" };

export interface QuotaWindow {
  max_limit: number;
  current_usage: number;
  reserved: number;
  remaining: number;
  reset_duration: string;
  calendar_aligned: boolean;
  last_reset: string;
  resets_at: string;
}

export interface QuotaReport {
  virtual_key_name: string;
  is_active: boolean;
  budgets: (QuotaWindow & { id: string; scope: string })[];
  rate_limits: { scope: string; requests: QuotaWindow | null; tokens: QuotaWindow | null }[];
  concurrency: { max_concurrent_requests: number | null; in_flight: number };
  /** Leases isolates hold: how many, and the share of each limit they may hold together. */
  leases: { count: number; share: number };
}

export function limiterConfigOf(record: VirtualKeyRecord): LimiterConfig {
  const budgets: ScopedBudget[] = record.budgets.map((budget) => ({ ...budget, scope: KEY_SCOPE }));
  const rateLimits: ScopedRateLimit[] = record.rate_limit ? [{ ...record.rate_limit, scope: KEY_SCOPE }] : [];
  for (const config of record.provider_configs) {
    budgets.push(...config.budgets.map((budget) => ({ ...budget, scope: config.id })));
    if (config.rate_limit) rateLimits.push({ ...config.rate_limit, scope: config.id });
  }
  return {
    name: record.name,
    active: record.is_active,
    maxConcurrent: record.max_concurrent_requests,
    lowerExplicitLimits: record.lower_max_tokens_to_fit === true,
    budgets,
    rateLimits,
    ...(record.lease_share != null ? { leaseShare: record.lease_share } : {}),
    entity: { kind: "virtual_key", id: record.id },
    alerts: record.alerts ?? null,
  };
}
