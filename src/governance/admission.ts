/**
 * The Worker's side of a virtual key's limits: one Durable Object call to admit (before any origin is contacted),
 * and one to settle, made from waitUntil once the response has finished.
 */
import type { Env } from "../env";
import { numberSetting } from "../env";
import { GatewayError } from "../http/errors";
import type { UsageReport } from "../upstream/respond";
import type { AdmitDecision } from "./limits";
import { costOf, type Price } from "./pricing";
import type { VirtualKeyRecord } from "./schema";

export interface TokenEstimate {
  promptTokens: number;
  /** The most the request may generate (its max_tokens, or the gateway's default assumption). */
  maxCompletionTokens: number;
}

export interface AdmissionTicket {
  reservationId: string;
  scope: string;
  stub: DurableObjectStub<import("./limiter").VirtualKeyLimiter>;
}

const DEFAULT_TTL_SECONDS = 900;

export function limiterFor(env: Env, vk: VirtualKeyRecord) {
  return env.VK_LIMITER.get(env.VK_LIMITER.idFromName(vk.id));
}

function refusal(decision: Extract<AdmitDecision, { ok: false }>): GatewayError {
  const headers = { ...decision.headers };
  if (decision.retryAfterSeconds !== null) headers["retry-after"] = String(decision.retryAfterSeconds);
  return new GatewayError(decision.status, decision.message, decision.type, { type: decision.type, headers });
}

/** Reserves the request's worst case (every token it may use, at the price of the first-choice origin). */
export async function admitRequest(env: Env, vk: VirtualKeyRecord, scope: string, estimate: TokenEstimate, price: Price): Promise<AdmissionTicket> {
  const stub = limiterFor(env, vk);
  const decision = await stub.admit({
    scope,
    tokens: estimate.promptTokens + estimate.maxCompletionTokens,
    cost: costOf(price, estimate.promptTokens, estimate.maxCompletionTokens),
    ttlMs: numberSetting(env.RESERVATION_TTL_SECONDS, DEFAULT_TTL_SECONDS) * 1000,
  });
  if (!decision.ok) throw refusal(decision);
  return { reservationId: decision.reservationId, scope, stub };
}

/** Replaces the reservation with actual usage, priced at the origin that answered. */
export async function settleUsage(ticket: AdmissionTicket, usage: UsageReport, price: Price): Promise<void> {
  await ticket.stub.settle({
    reservationId: ticket.reservationId,
    scope: ticket.scope,
    tokens: usage.promptTokens + usage.completionTokens,
    cost: costOf(price, usage.promptTokens, usage.completionTokens),
  });
}
