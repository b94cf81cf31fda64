/**
 * How much of one limit a lease may hold: the arithmetic behind leased admission, pure so its edge cases are tested
 * apart from the Durable Object. Leases together never hold more than `share` of a limit — what a lease holds but its
 * isolate never reported is the only possible overspend. They never take from the last `share` of a window either,
 * and each takes at most a quarter of the rest, so leases shrink as a window nears its limit and the last requests
 * are admitted by the object itself, exactly.
 */
import { windowSpec, type WindowSpec } from "./duration";
import { nanos } from "./limiter-denials";
import type { Pending } from "./limiter-quota";
import { KEY_SCOPE, type LeaseAmounts, type LeaseInFlight, type LeaseWant, type LimiterConfig } from "./limits";

export interface LimitState {
  /** The limit's size per window. */
  capacity: number;
  /** Settled usage in the current window. */
  used: number;
  /** Held by reservations and by other leases. */
  heldByOthers: number;
  /** Held by other leases alone (part of heldByOthers). */
  leasedByOthers: number;
}

/** The headroom beyond `inFlight` (what the lease's running requests already hold) a lease may get from one limit. */
export function leaseHeadroom(limit: LimitState, inFlight: number, share: number): number {
  const bound = Math.floor(limit.capacity * share);
  const free = limit.capacity - limit.used - limit.heldByOthers - inFlight;
  return Math.max(0, Math.min(bound - limit.leasedByOthers - inFlight, Math.floor((free - bound) / 4)));
}

/** The smaller of two headrooms where null means "no limit applies". */
export function tighter(a: number | null, b: number): number {
  return a === null ? b : Math.min(a, b);
}

/** What the limiter knows, as a lease is computed: counters, and what reservations and leases hold per scope. */
export interface LimiterView {
  used(name: string, spec: WindowSpec): number;
  held(scope: string): Pending;
  leased(scope: string): Pending;
}

/** What a lease over `scopes` may hold: its running requests' worst case plus its share of what remains. */
export function leaseHoldOf(config: LimiterConfig, scopes: string[], inFlight: LeaseInFlight, want: LeaseWant, share: number, view: LimiterView): LeaseAmounts {
  let requests: number | null = null;
  let tokens: number | null = null;
  let nanosHeld: number | null = null;
  let slots: number | null = null;
  const state = (name: string, spec: WindowSpec, capacity: number, scope: string, unit: "tokens" | "cost" | "requests") => ({
    capacity,
    used: view.used(name, spec),
    heldByOthers: view.held(scope)[unit],
    leasedByOthers: view.leased(scope)[unit],
  });
  for (const limit of config.rateLimits) {
    if (!scopes.includes(limit.scope)) continue;
    if (limit.request_max_limit != null && limit.request_reset_duration) {
      const spec = windowSpec(limit.request_reset_duration, limit.calendar_aligned);
      requests = tighter(requests, Math.min(want.requests, leaseHeadroom(state(`requests:${limit.scope}`, spec, limit.request_max_limit, limit.scope, "requests"), 0, share)));
    }
    if (limit.token_max_limit != null && limit.token_reset_duration) {
      const spec = windowSpec(limit.token_reset_duration, limit.calendar_aligned);
      tokens = tighter(tokens, inFlight.tokens + Math.min(want.tokens, leaseHeadroom(state(`tokens:${limit.scope}`, spec, limit.token_max_limit, limit.scope, "tokens"), inFlight.tokens, share)));
    }
  }
  for (const budget of config.budgets) {
    if (!scopes.includes(budget.scope)) continue;
    const spec = windowSpec(budget.reset_duration, budget.calendar_aligned);
    nanosHeld = tighter(nanosHeld, inFlight.nanos + Math.min(want.nanos, leaseHeadroom(state(`budget:${budget.id}`, spec, nanos(budget.max_limit), budget.scope, "cost"), inFlight.nanos, share)));
  }
  if (config.maxConcurrent !== null) {
    const all = { capacity: config.maxConcurrent, used: 0, heldByOthers: view.held(KEY_SCOPE).count, leasedByOthers: view.leased(KEY_SCOPE).count };
    slots = inFlight.slots + Math.min(want.slots, leaseHeadroom(all, inFlight.slots, share));
  }
  // A lease with no request or concurrency slot to spare admits nothing, so headroom in its other limits would only
  // keep other isolates and strict requests out until it expired: it holds just what its running requests hold.
  if (requests === 0 || (slots !== null && slots - inFlight.slots < 1)) {
    return { requests: requests === null ? null : 0, tokens: tokens === null ? null : inFlight.tokens, nanos: nanosHeld === null ? null : inFlight.nanos, slots };
  }
  return { requests, tokens, nanos: nanosHeld, slots };
}
