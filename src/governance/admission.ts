/**
 * The Worker's side of limits, at every level a request belongs to (its virtual key, the key's team, the customer):
 * a level that leases this isolate part of its allowance admits from the lease with no round trip; the others take
 * one Durable Object call each, made together, before any origin is contacted. Renewals run while the request does,
 * and a limiter's own reservation is settled before the response's last byte — so the next request sees exact
 * numbers. A request that dies stops renewing; its reservation lapses within one TTL, a lease within its own.
 */
import type { Env } from "../env";
import { GatewayError } from "../http/errors";
import type { AdmitDecision } from "./limits";
import { costNanos, fixedNanos, nanosPerCompletionToken, type MeteredUsage, type Price } from "./pricing";
import type { TokenClaims } from "./ephemeral";
import type { VirtualKeyRecord } from "./schema";
import { settingsOf } from "../settings";
import type { Demand } from "./lease-holder";
import { limiterNamed } from "./limiter-named";
import { admitAt, renewAt, settleAt } from "./limiter-line";
import { leaseHolder, newTicket, renewIfDue, scheduleFlush, type AdmissionTicket, type Hold, type LimiterLevel, type WaitUntil } from "./admission-ticket";

export type { AdmissionTicket, LimiterLevel } from "./admission-ticket";
export { limiterNamed } from "./limiter-named";

export interface TokenEstimate {
  promptTokens: number;
  /** Completion tokens per choice: the client's own limit, or the default reservation when it set none. */
  completionTokens: number;
  /** Choices generated (`n`, `best_of`); every limit reserves completionTokens × choices. */
  choices: number;
  /** The client set the completion limit itself; without it the gateway may lower the grant to what remains. */
  explicit: boolean;
  /** Seconds of audio in an upload (transcriptions, translations), priced per second. */
  audioSeconds?: number | undefined;
}

/** An estimate for a request that generates nothing (embeddings, rerank). */
export function inputOnly(promptTokens: number): TokenEstimate {
  return { promptTokens, completionTokens: 0, choices: 1, explicit: true };
}

/** The least completion per choice worth admitting a request whose limit the gateway lowers to what remains. */
export const MIN_COMPLETION_TOKENS = 16;

export function limiterFor(env: Env, vk: Pick<VirtualKeyRecord, "id">) {
  return limiterNamed(env, vk.id);
}

export function reservationTtlMs(env: Env): number {
  return settingsOf(env).RESERVATION_TTL_SECONDS * 1000;
}

function refusal(decision: Extract<AdmitDecision, { ok: false }>): GatewayError {
  const headers = { ...decision.headers };
  if (decision.retryAfterSeconds !== null) headers["retry-after"] = String(decision.retryAfterSeconds);
  return new GatewayError(decision.status, decision.message, decision.type, { type: decision.type, headers, param: decision.param ?? null });
}

/** Reserves the request's worst case at `price` at every level it belongs to, and keeps it alive while the request runs. */
export async function admitRequest(env: Env, levels: readonly LimiterLevel[], estimate: TokenEstimate, price: Price | null, token: TokenClaims | null, waitUntil: WaitUntil): Promise<AdmissionTicket> {
  const ttlMs = reservationTtlMs(env);
  const leaseTtlMs = settingsOf(env).LEASE_TTL_SECONDS * 1000;
  const demand: Demand = {
    promptTokens: estimate.promptTokens,
    completionTokens: estimate.completionTokens,
    choices: estimate.choices,
    flexible: !estimate.explicit,
    minCompletionTokens: MIN_COMPLETION_TOKENS,
    fixedNanos: price ? Math.ceil(fixedNanos(price, estimate.promptTokens, estimate.audioSeconds)) : 0,
    nanosPerCompletionToken: price ? nanosPerCompletionToken(price, estimate.promptTokens) : 0,
  };
  const now = Date.now();
  const holds: Hold[] = [];
  const central: LimiterLevel[] = [];
  for (const level of levels) {
    // An ephemeral token's revocation and sub-budget live in its key's limiter: such requests ask it every time.
    const holder = level.leaseShare > 0 && !(token && level.kind === "virtual_key") ? leaseHolder(level, leaseTtlMs) : null;
    const share = holder?.tryAdmit(demand, now) ?? null;
    if (holder) renewIfDue(env, level, holder, waitUntil);
    if (holder && share) holds.push({ kind: "leased", level, holder, share });
    else central.push(level);
  }
  const decisions = await Promise.allSettled(
    central.map((level) =>
      admitAt(env, level.name, {
        ...demand,
        scope: level.scope,
        ttlMs,
        token: token && level.kind === "virtual_key" ? { id: token.id, iat: token.iat, exp: token.exp, budget: token.budget, rate: token.rate } : undefined,
      }, waitUntil),
    ),
  );
  let failure: unknown = null;
  decisions.forEach((outcome, index) => {
    const level = central[index] as LimiterLevel;
    if (outcome.status === "rejected") failure ??= outcome.reason;
    // A team or customer deleted a moment ago (this isolate's routing table is seconds old) has no limits left.
    else if (!outcome.value.ok && outcome.value.unconfigured && level.kind !== "virtual_key") return;
    else if (!outcome.value.ok) failure ??= refusal(outcome.value);
    else holds.push({ kind: "central", level, reservationId: outcome.value.reservationId, completionTokens: outcome.value.completionTokens });
  });
  const ticket = newTicket(env, holds, token, waitUntil);
  if (failure !== null) {
    // Every level admits or none holds anything: what the others reserved goes back at once.
    await withdrawAdmission(ticket).catch((error: unknown) => console.error("giving back a refused request's reservations failed:", error));
    throw failure;
  }
  startRenewals(env, ticket, ttlMs, leaseTtlMs);
  return ticket;
}

/**
 * Replaces the request's reservations with what it used, priced at the origin that answered, at every level: a lease
 * takes it back at once (reported with its next renewal); a limiter's own reservation resolves once applied.
 */
export async function settleUsage(ticket: AdmissionTicket, usage: MeteredUsage, price: Price | null): Promise<void> {
  ticket.stopRenewing();
  const tokens = usage.promptTokens + usage.completionTokens;
  const nanos = costNanos(price, usage);
  const applied: Promise<void>[] = [];
  for (const hold of ticket.holds) {
    if (hold.kind === "leased") {
      hold.holder.settle(hold.share, { tokens, nanos });
      scheduleFlush(ticket.env, hold.level, hold.holder, ticket.waitUntil);
    } else {
      applied.push(settleAt(ticket.env, hold.level.name, [{ reservationId: hold.reservationId, scope: hold.level.scope, tokens, nanos, tokenId: hold.level.kind === "virtual_key" ? ticket.tokenId : undefined }], ticket.waitUntil));
    }
  }
  await Promise.all(applied);
}

/** Takes back what the levels that admitted a request hold and count, because another level refused it. */
async function withdrawAdmission(ticket: AdmissionTicket): Promise<void> {
  const applied: Promise<void>[] = [];
  for (const hold of ticket.holds) {
    if (hold.kind === "leased") hold.holder.withdraw(hold.share);
    else applied.push(settleAt(ticket.env, hold.level.name, [{ reservationId: hold.reservationId, scope: hold.level.scope, tokens: 0, nanos: 0, withdrawn: true }], ticket.waitUntil));
  }
  await Promise.all(applied);
}

/** Gives a reservation back unused (the request failed before any origin answered). */
export function releaseReservation(ticket: AdmissionTicket): Promise<void> {
  return settleUsage(ticket, { promptTokens: 0, completionTokens: 0 }, null);
}

/** Keeps the request's own reservations alive, and its leases renewed, while it runs. */
function startRenewals(env: Env, ticket: AdmissionTicket, ttlMs: number, leaseTtlMs: number): void {
  const central = ticket.holds.filter((hold) => hold.kind === "central");
  const leased = ticket.holds.filter((hold) => hold.kind === "leased");
  if (central.length === 0 && leased.length === 0) return;
  // Renewed a few times per TTL, so one lost renewal does not let a live request's reservation lapse.
  const every = Math.max(100, Math.min(central.length ? ttlMs : Number.POSITIVE_INFINITY, leased.length ? leaseTtlMs : Number.POSITIVE_INFINITY) / 3);
  const renewal = setInterval(() => {
    for (const hold of central) {
      renewAt(env, hold.level.name, [hold.reservationId], ttlMs, ticket.waitUntil).catch((error: unknown) => console.error(`renewing reservation ${hold.reservationId} failed:`, error));
    }
    for (const hold of leased) renewIfDue(env, hold.level, hold.holder, ticket.waitUntil);
  }, every);
  ticket.stopRenewing = () => clearInterval(renewal);
}
