/**
 * The Worker's side of a virtual key's limits: one Durable Object call to admit, before any origin is contacted.
 * Settlements are not a call of their own when traffic allows: an isolate queues each settlement briefly and the
 * key's next admission from this isolate carries it, so a busy key costs one call per request. A settlement nobody
 * picks up within SETTLE_DELAY_MS is sent on its own (from waitUntil). Until it arrives the reservation stays
 * held — limits err on the safe side, never on the generous one.
 */
import type { Env } from "../env";
import { numberSetting } from "../env";
import { GatewayError } from "../http/errors";
import type { UsageReport } from "../upstream/respond";
import type { AdmitDecision, SettleRequest } from "./limits";
import { costOf, type Price } from "./pricing";
import type { TokenClaims } from "./ephemeral";
import type { VirtualKeyRecord } from "./schema";

export interface TokenEstimate {
  promptTokens: number;
  /** The most the request may generate (its max_tokens, or the gateway's default assumption). */
  maxCompletionTokens: number;
}

export interface AdmissionTicket {
  reservationId: string;
  scope: string;
  tokenId: string | undefined;
  vk: VirtualKeyRecord;
  env: Env;
}

const DEFAULT_TTL_SECONDS = 900;
/** How long a settlement waits for a following admission to carry it before it is sent alone. */
const SETTLE_DELAY_MS = 10;

interface QueuedSettlement {
  settlement: SettleRequest;
  /** Someone — a following admission, or the owner's own timer — has taken it to send. Plain data, so any request may set it. */
  taken: boolean;
}

/** Settlements waiting to ride along with the key's next admission from this isolate, per virtual key id. */
const queues = new Map<string, QueuedSettlement[]>();

/** Object ids by virtual key id: deriving one hashes the name, and an id is plain data any request may reuse. */
const objectIds = new Map<string, DurableObjectId>();

export function limiterFor(env: Env, vk: VirtualKeyRecord) {
  let id = objectIds.get(vk.id);
  if (!id) {
    id = env.VK_LIMITER.idFromName(vk.id);
    if (objectIds.size >= 10_000) objectIds.clear();
    objectIds.set(vk.id, id);
  }
  return env.VK_LIMITER.get(id);
}

function refusal(decision: Extract<AdmitDecision, { ok: false }>): GatewayError {
  const headers = { ...decision.headers };
  if (decision.retryAfterSeconds !== null) headers["retry-after"] = String(decision.retryAfterSeconds);
  return new GatewayError(decision.status, decision.message, decision.type, { type: decision.type, headers });
}

/** Takes every waiting settlement of a key; the caller sends them. */
function takeQueued(vkId: string): SettleRequest[] {
  const queue = queues.get(vkId) ?? [];
  queues.delete(vkId);
  return queue.filter((item) => !item.taken).map((item) => ((item.taken = true), item.settlement));
}

/** Reserves the request's worst case (every token it may use, at the price of the first-choice origin). */
export async function admitRequest(
  env: Env,
  vk: VirtualKeyRecord,
  scope: string,
  estimate: TokenEstimate,
  price: Price,
  token: TokenClaims | null = null,
): Promise<AdmissionTicket> {
  const settlements = takeQueued(vk.id);
  let decision: AdmitDecision;
  try {
    decision = await limiterFor(env, vk).admit({
      scope,
      tokens: estimate.promptTokens + estimate.maxCompletionTokens,
      cost: costOf(price, estimate.promptTokens, estimate.maxCompletionTokens),
      ttlMs: numberSetting(env.RESERVATION_TTL_SECONDS, DEFAULT_TTL_SECONDS) * 1000,
      settlements,
      token: token ? { id: token.id, iat: token.iat, exp: token.exp, budget: token.budget, rate: token.rate } : undefined,
    });
  } catch (error) {
    // The carried settlements did not arrive; they go out on their own.
    if (settlements.length > 0) await limiterFor(env, vk).settle(settlements).catch((cause: unknown) => console.error("settlement lost:", cause));
    throw error;
  }
  if (!decision.ok) throw refusal(decision);
  return { reservationId: decision.reservationId, scope, tokenId: token?.id, vk, env };
}

/**
 * Replaces the reservation with actual usage, priced at the origin that answered: queued for the key's next
 * admission from this isolate to carry, and sent alone (with whatever else is waiting) if none has within
 * SETTLE_DELAY_MS. Requests only share plain data here — a Worker request cannot resolve another's promises.
 */
export async function settleUsage(ticket: AdmissionTicket, usage: UsageReport, price: Price): Promise<void> {
  const item: QueuedSettlement = {
    settlement: {
      reservationId: ticket.reservationId,
      scope: ticket.scope,
      tokens: usage.promptTokens + usage.completionTokens,
      cost: costOf(price, usage.promptTokens, usage.completionTokens),
      tokenId: ticket.tokenId,
    },
    taken: false,
  };
  const queue = queues.get(ticket.vk.id) ?? [];
  queues.set(ticket.vk.id, queue);
  queue.push(item);
  await new Promise((resolve) => setTimeout(resolve, SETTLE_DELAY_MS));
  if (item.taken) return;
  await limiterFor(ticket.env, ticket.vk).settle(takeQueued(ticket.vk.id));
}
