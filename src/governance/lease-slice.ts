/**
 * How much of one limit a lease may hold: the arithmetic behind leased admission, pure so its edge cases are tested
 * apart from the Durable Object. Leases together never hold more than `share` of a limit — what a lease holds but its
 * isolate never reported is the only possible overspend. They never take from the last `share` of a window either,
 * and each takes at most a quarter of the rest, so leases shrink as a window nears its limit and the last requests
 * are admitted by the object itself, exactly.
 */

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
