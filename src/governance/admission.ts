/**
 * The Worker's side of a virtual key's limits: one Durable Object call to admit before any origin is contacted,
 * renewals while the request runs, and one call to settle that the response's last byte waits for — so the key's
 * next request sees exact numbers. A request that dies stops renewing; its reservation lapses within one TTL.
 */
import type { Env } from "../env";
import { GatewayError } from "../http/errors";
import type { AdmitDecision } from "./limits";
import { costNanos, fixedNanos, nanosPerCompletionToken, type MeteredUsage, type Price } from "./pricing";
import type { TokenClaims } from "./ephemeral";
import type { VirtualKeyRecord } from "./schema";
import { settingsOf } from "../settings";

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

export interface AdmissionTicket {
  reservationId: string;
  scope: string;
  tokenId: string | undefined;
  /** Completion tokens per choice the origin may generate: what the gateway writes into the forwarded body. */
  completionTokens: number;
  vk: VirtualKeyRecord;
  env: Env;
  /** Stops the renewals; called once the reservation is settled. */
  stopRenewing(): void;
}

/** The least completion per choice worth admitting a request whose limit the gateway lowers to what remains. */
export const MIN_COMPLETION_TOKENS = 16;

/** Object ids by virtual key id: deriving one hashes the name, and an id is plain data any request may reuse. */
const objectIds = new Map<string, DurableObjectId>();

export function limiterFor(env: Env, vk: Pick<VirtualKeyRecord, "id">) {
  let id = objectIds.get(vk.id);
  if (!id) {
    id = env.VK_LIMITER.idFromName(vk.id);
    if (objectIds.size >= 10_000) objectIds.clear();
    objectIds.set(vk.id, id);
  }
  return env.VK_LIMITER.get(id);
}

export function reservationTtlMs(env: Env): number {
  return settingsOf(env).RESERVATION_TTL_SECONDS * 1000;
}

function refusal(decision: Extract<AdmitDecision, { ok: false }>): GatewayError {
  const headers = { ...decision.headers };
  if (decision.retryAfterSeconds !== null) headers["retry-after"] = String(decision.retryAfterSeconds);
  return new GatewayError(decision.status, decision.message, decision.type, { type: decision.type, headers, param: decision.param ?? null });
}

/** Reserves the request's worst case at `price` (every token it may use) and keeps it alive while the request runs. */
export async function admitRequest(env: Env, vk: VirtualKeyRecord, scope: string, estimate: TokenEstimate, price: Price | null, token: TokenClaims | null = null): Promise<AdmissionTicket> {
  const ttlMs = reservationTtlMs(env);
  const limiter = limiterFor(env, vk);
  const decision = await limiter.admit({
    scope,
    promptTokens: estimate.promptTokens,
    completionTokens: estimate.completionTokens,
    choices: estimate.choices,
    flexible: !estimate.explicit,
    minCompletionTokens: MIN_COMPLETION_TOKENS,
    fixedNanos: price ? Math.ceil(fixedNanos(price, estimate.promptTokens, estimate.audioSeconds)) : 0,
    nanosPerCompletionToken: price ? nanosPerCompletionToken(price, estimate.promptTokens) : 0,
    ttlMs,
    token: token ? { id: token.id, iat: token.iat, exp: token.exp, budget: token.budget, rate: token.rate } : undefined,
  });
  if (!decision.ok) throw refusal(decision);
  const reservationId = decision.reservationId;
  // Renewed a few times per TTL, so one lost renewal does not let a live request's reservation lapse.
  const renewal = setInterval(() => {
    limiter.renew([reservationId], ttlMs).catch((error: unknown) => console.error(`renewing reservation ${reservationId} failed:`, error));
  }, Math.max(100, ttlMs / 3));
  return { reservationId, scope, tokenId: token?.id, completionTokens: decision.completionTokens, vk, env, stopRenewing: () => clearInterval(renewal) };
}

/** Replaces the reservation with what the request used, priced at the origin that answered; resolves once applied. */
export async function settleUsage(ticket: AdmissionTicket, usage: MeteredUsage, price: Price | null): Promise<void> {
  ticket.stopRenewing();
  await limiterFor(ticket.env, ticket.vk).settle([
    {
      reservationId: ticket.reservationId,
      scope: ticket.scope,
      tokens: usage.promptTokens + usage.completionTokens,
      nanos: costNanos(price, usage),
      tokenId: ticket.tokenId,
    },
  ]);
}

/** Gives a reservation back unused (the request failed before any origin answered). */
export function releaseReservation(ticket: AdmissionTicket): Promise<void> {
  return settleUsage(ticket, { promptTokens: 0, completionTokens: 0 }, null);
}
