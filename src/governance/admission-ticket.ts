/** What an admitted request holds at each level it belongs to, and the isolate's leases those holds come from. */
import type { Env } from "../env";
import type { TokenClaims } from "./ephemeral";
import { LeaseHolder, type LeasedShare } from "./lease-holder";
import { limiterNamed } from "./limiter-named";
import type { LeaseRequest } from "./limits";

export type WaitUntil = (promise: Promise<unknown>) => void;

/** One limiter a request counts against. */
export interface LimiterLevel {
  kind: "virtual_key" | "team" | "customer";
  /** The limiter's Durable Object name: the key's id, `team:<id>`, `customer:<id>`. */
  name: string;
  /** The provider config whose own limits apply too (the key's level only). */
  scope: string | null;
  /** The share of each limit isolates may lease (0: every request asks the limiter). */
  leaseShare: number;
}

export type Hold =
  | { kind: "central"; level: LimiterLevel; reservationId: string; completionTokens: number }
  | { kind: "leased"; level: LimiterLevel; holder: LeaseHolder; share: LeasedShare };

export interface AdmissionTicket {
  holds: Hold[];
  /** The key level's reservation id ("lease" when admitted from one), for log lines. */
  reservationId: string;
  /** The provider config the key level counts the request against. */
  scope: string | null;
  tokenId: string | undefined;
  /** Completion tokens per choice the origin may generate: what the gateway writes into the forwarded body. */
  completionTokens: number;
  env: Env;
  waitUntil: WaitUntil;
  /** Stops the renewals; called once the reservations are settled. */
  stopRenewing(): void;
}

export function newTicket(env: Env, holds: Hold[], token: TokenClaims | null, waitUntil: WaitUntil): AdmissionTicket {
  const own = holds.find((hold) => hold.level.kind === "virtual_key");
  let completionTokens = Number.POSITIVE_INFINITY;
  for (const hold of holds) completionTokens = Math.min(completionTokens, hold.kind === "central" ? hold.completionTokens : hold.share.completionTokens);
  return {
    holds,
    reservationId: own?.kind === "central" ? own.reservationId : "lease",
    scope: own?.level.scope ?? null,
    tokenId: token?.id,
    completionTokens: Number.isFinite(completionTokens) ? completionTokens : 0,
    env,
    waitUntil,
    stopRenewing: () => undefined,
  };
}

/** This isolate's leases, by limiter and scope. Plain state: no request's promise is ever kept here. */
const holders = new Map<string, LeaseHolder>();
const MAX_HOLDERS = 10_000;

export function leaseHolder(level: LimiterLevel, ttlMs: number): LeaseHolder {
  const key = `${level.name}\u0000${level.scope ?? ""}`;
  let holder = holders.get(key);
  if (!holder) {
    if (holders.size >= MAX_HOLDERS) holders.delete(holders.keys().next().value as string);
    holder = new LeaseHolder(level.scope, ttlMs);
    holders.set(key, holder);
  }
  return holder;
}

/** Forgets every lease this isolate holds (tests start from a cold isolate). */
export function forgetLeases(): void {
  holders.clear();
}

function transportFor(env: Env, level: LimiterLevel) {
  const stub = limiterNamed(env, level.name);
  return {
    lease: (request: LeaseRequest) => stub.lease(request),
    wait: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
  };
}

/** Starts a renewal off the request path when the lease needs one. */
export function renewIfDue(env: Env, level: LimiterLevel, holder: LeaseHolder, waitUntil: WaitUntil): void {
  if (holder.renewalDue(Date.now())) waitUntil(holder.renew(transportFor(env, level), Date.now));
}

/** Reports settled usage shortly, in one renewal for every request that settles meanwhile. */
export function scheduleFlush(env: Env, level: LimiterLevel, holder: LeaseHolder, waitUntil: WaitUntil): void {
  const delay = holder.scheduleFlush(Date.now());
  if (delay === null) return;
  const transport = transportFor(env, level);
  waitUntil(
    transport
      .wait(delay)
      .then(() => holder.renew(transport, Date.now))
      .then(() => holder.handBackWhenIdle(transport, Date.now)),
  );
}
