/** The quota report of a virtual key's limiter: every budget and window with its usage, reservations and reset. */
import { windowEnd, windowSpec, type WindowSpec } from "./duration";
import { KEY_SCOPE, type LimiterConfig, type QuotaReport, type QuotaWindow } from "./limits";
import { iso } from "./limiter-denials";

export interface Counter {
  usage: number;
  start: number;
}

/** What requests in flight hold in one scope: tokens, nano-dollars, and how many they are. */
export interface Pending {
  tokens: number;
  cost: number;
  /** Requests running (a lease counts the slots it holds). */
  count: number;
  /** Requests leases may still admit. */
  requests: number;
}

export interface LimiterState {
  /** A counter's value in its current window. */
  counter(name: string, spec: WindowSpec): Counter;
  pending(scope: string): Pending;
  leases: number;
}

export function quotaReport(config: LimiterConfig, state: LimiterState): QuotaReport {
  const window = (name: string, max: number, duration: string, calendarAligned: boolean, reserved: number, unit = 1): QuotaWindow => {
    const spec = windowSpec(duration, calendarAligned);
    const counter = state.counter(name, spec);
    const used = counter.usage / unit;
    return {
      max_limit: max,
      current_usage: used,
      reserved: reserved / unit,
      // In the counter's own integer unit (nano-dollars for budgets), so the difference carries no float noise.
      remaining: Math.max(0, Math.round(max * unit) - counter.usage - reserved) / unit,
      reset_duration: duration,
      calendar_aligned: calendarAligned,
      last_reset: iso(counter.start),
      resets_at: iso(windowEnd(spec, counter.start)),
    };
  };
  return {
    virtual_key_name: config.name,
    is_active: config.active,
    budgets: config.budgets.map((b) => ({
      id: b.id,
      scope: b.scope,
      ...window(`budget:${b.id}`, b.max_limit, b.reset_duration, b.calendar_aligned, state.pending(b.scope).cost, 1e9),
    })),
    rate_limits: config.rateLimits.map((limit) => ({
      scope: limit.scope,
      requests:
        limit.request_max_limit != null && limit.request_reset_duration
          ? window(`requests:${limit.scope}`, limit.request_max_limit, limit.request_reset_duration, limit.calendar_aligned, state.pending(limit.scope).requests)
          : null,
      tokens:
        limit.token_max_limit != null && limit.token_reset_duration
          ? window(`tokens:${limit.scope}`, limit.token_max_limit, limit.token_reset_duration, limit.calendar_aligned, state.pending(limit.scope).tokens)
          : null,
    })),
    concurrency: { max_concurrent_requests: config.maxConcurrent, in_flight: state.pending(KEY_SCOPE).count },
    leases: { count: state.leases, share: config.leaseShare ?? 0 },
  };
}
