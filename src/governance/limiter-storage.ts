/** What a limiter keeps: its synchronous storage, clock and alarm, and the reservations and leases it holds. */
import { KEY_SCOPE } from "./limits";
import type { Pending } from "./limiter-quota";
import type { LimiterAlertSink } from "./limiter-alerts";

/** The synchronous storage a limiter writes through (the Durable Object's SQLite-backed KV API), its alarm and clock. */
export interface LimiterKv {
  get<T>(key: string): T | undefined;
  put<T>(key: string, value: T): void;
  delete(key: string): unknown;
  list<T>(options: { prefix: string }): Iterable<[string, T]>;
}

export interface LimiterStorage {
  kv: LimiterKv;
  setAlarm(at: number): void;
  now(): number;
  /** The lease share of limiters whose config sets none (the gateway's LEASE_SHARE). */
  defaultLeaseShare(): number;
  /** Told of every counter change and refusal, to send alerts (none in simulations). */
  alerts?: LimiterAlertSink;
}

export interface Reservation {
  scope: string | null;
  tokenId?: string | undefined;
  tokens: number;
  /** Nano-dollars. */
  cost: number;
  expiresAt: number;
  /** The TTL its request renews it to (absent in older records). */
  ttlMs?: number;
  /** A lease: requests it may still admit (counted when reported), and the slots it holds (a request holds 1). */
  lease?: boolean;
  requests?: number;
  slots?: number;
}

function inScope(reservation: Reservation, scope: string): boolean {
  return scope === KEY_SCOPE || reservation.scope === scope;
}

/** What live reservations (or leases alone) hold in one scope: tokens, nano-dollars, slots and requests. */
export function heldIn(reservations: Iterable<Reservation>, scope: string, now: number, leasesOnly: boolean): Pending {
  const held: Pending = { tokens: 0, cost: 0, count: 0, requests: 0 };
  for (const reservation of reservations) {
    if (reservation.expiresAt <= now || !inScope(reservation, scope) || (leasesOnly && !reservation.lease)) continue;
    held.tokens += reservation.tokens;
    held.cost += reservation.cost;
    held.count += reservation.slots ?? 1;
    held.requests += reservation.requests ?? 0;
  }
  return held;
}
