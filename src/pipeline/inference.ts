/**
 * An inference request, step by step. Every OpenAI-, Anthropic- and vLLM-shaped endpoint parses its body into an
 * InferencePlan (plain values) and hands it here:
 *
 *   1. authenticate  authenticate.ts  the virtual key (middleware, before the body was read), checked against Origin
 *   2. parse         endpoints/*      the body, once, into the plan
 *   3. resolve       resolve.ts       the model and its fallbacks → chains of candidate targets
 *      (cache)       response-cache.ts  a deterministic request answered before, replayed at $0 (admitted as one request)
 *   4. admit         admit.ts         one Durable Object call reserving the worst case, per provider config
 *   5. dispatch      dispatch.ts      targets in order, retries with backoff, then the next chain (attempt.ts)
 *   6. relay         reply.ts         the origin's answer in the endpoint's shape, streams event by event
 *   7. settle        settle.ts        usage swapped for the reservation before the last byte reaches the client
 *   8. log           trace.ts         the route and outcome, which the request log writes once the response ends
 */
import { getRoutingTable } from "../config/store";
import type { AppContext } from "../http/context";
import { waitUntilOf } from "../http/context";
import { asGatewayError, GatewayError } from "../http/errors";
import type { AdmissionTicket } from "../governance/admission";
import { healthSettings, syncHealth } from "../routing/health";
import { isChatTemplated, learnFromUsage, templateModel } from "../governance/template-overhead";
import { settingsOf } from "../settings";
import { admitChain, coversChain, release } from "./admit";
import type { Grant } from "./attempt";
import { authenticate } from "./authenticate";
import { priceOf, uncharged } from "./charges";
import { attemptsOf, dispatchTargets } from "./dispatch";
import { healthFirst, targetOrder } from "./order";
import type { InferencePlan } from "./plan";
import { pinnedKeyOf, resolveRoute, type Chain } from "./resolve";
import { cacheAnswer, cacheEntryFor, cachedAnswer, wantsCache } from "./response-cache";
import type { RequestScope } from "./scope";
import { settleAnswer } from "./settle";
import { recordRoute, traceOf, tracingOf, withRouteHeaders } from "./trace";

/** Origin failures worth another model: the origin broke, was busy or lacks the model — not the client's own mistakes. */
function worthFallback(error: unknown): boolean {
  const failure = asGatewayError(error);
  return failure.code !== "client_closed_request" && (failure.status >= 500 || failure.status === 429 || failure.status === 404);
}

function logAttemptFailure(requestId: string, index: number, chain: Chain, error: unknown): void {
  const failure = asGatewayError(error);
  console.log(JSON.stringify({ event: "attempt_failed", request_id: requestId, fallback_index: index, model: chain.publicModel, status: failure.status, code: failure.code, message: failure.message }));
}

export async function runInference(c: AppContext, plan: InferencePlan): Promise<Response> {
  const scope: RequestScope = { env: c.env, settings: settingsOf(c.env), requestId: c.get("requestId"), signal: c.req.raw.signal, waitUntil: waitUntilOf(c), tracing: tracingOf(c) };
  const trace = traceOf(c);
  scope.tracing.describe(plan);

  // 1. Authenticate (the middleware already did, before the body was read).
  const known = c.get("principal");
  const principal = known !== undefined ? known : await authenticate(c);
  if (principal) trace.virtualKey = { id: principal.vk.id, name: principal.vk.name };

  // 2. Parse: done — `plan` is the body, parsed once. 3. Resolve.
  const table = await getRoutingTable(scope.env, scope.waitUntil);
  // As the client named it, until routing names the model served (a request routing refuses is logged with it too).
  trace.model = plan.model;
  if (plan.upstream.kind === "json" && plan.upstream.stream) trace.stream = true;
  const routed = resolveRoute(table, principal, plan, scope.requestId, pinnedKeyOf(c.req.raw.headers));
  trace.model = routed.publicModel;
  const chains: Chain[] = plan.upstream.kind === "multipart" ? [routed] : [routed, ...routed.fallbacks];
  const sessionId = c.req.header("x-session-id") ?? c.req.header("x-bf-session-id");
  const health = healthSettings(scope.env);

  // An exact-match answer kept from before needs no admission and no origin.
  const vk = principal?.vk ?? null;
  const cache = wantsCache(c.req.raw.headers, vk, plan) ? await cacheEntryFor(c.req.raw.headers, vk, plan, routed.targets[0]) : null;
  const hit = cache && (await cachedAnswer(cache));
  const first = routed.targets[0];
  if (hit && first) {
    // A replay reaches no origin and costs nothing, yet it is one of the key's requests: its request windows and
    // concurrency count it — a key at its request limit is refused a replay too — and it reserves no tokens or dollars.
    const { ticket } = await admitChain(scope, routed, routed, { estimate: plan.estimate, metered: false, requestType: plan.requestType }, null);
    if (ticket) scope.waitUntil(release(ticket));
    recordRoute(trace, first, routed.publicModel, 0, 0);
    trace.cacheHit = true;
    trace.outcome = Promise.resolve(hit.outcome);
    return withRouteHeaders(hit.response, first, 0, 0);
  }

  // A client that leaves before the first byte cancels this code; the abort event still runs and gives back the
  // reservation held at that moment (after the answer started, its settlement does). Also under waitUntil.
  let ticket: AdmissionTicket | null = null;
  let answered = false;
  const releaseLater = (held: AdmissionTicket) => {
    const released = release(held);
    scope.waitUntil(released);
    return released;
  };
  const onClientGone = () => {
    if (ticket && !answered) void releaseLater(ticket);
  };
  let watching = false;

  let primaryError: unknown;
  let firstError: unknown;
  /** Origin attempts made by the chains that failed, which the log and x-bf-attempts count in. */
  let failedAttempts = 0;
  for (const { chain, position } of healthFirst(chains)) {
    // 4. Admit.
    let admission;
    try {
      if (ticket && !coversChain(ticket, chain)) {
        await releaseLater(ticket);
        ticket = null;
      }
      admission = await admitChain(scope, routed, chain, plan, ticket);
      ticket = admission.ticket;
    } catch (error) {
      // The key's own limits refused: final for the primary; a fallback that is refused is a failed attempt.
      if (position === 0) throw error;
      logAttemptFailure(scope.requestId, position, chain, error);
      continue;
    }
    if (ticket && !watching) {
      scope.signal.addEventListener("abort", onClientGone, { once: true });
      watching = true;
    }
    try {
      // 5–6. Dispatch and relay.
      const grant: Grant = { completionTokens: ticket && plan.estimate.completionTokens > 0 ? ticket.completionTokens : null };
      syncHealth(admission.targets, scope.waitUntil);
      const dispatched = await dispatchTargets(scope, {
        upstream: plan.upstream,
        targets: targetOrder(admission.targets, sessionId, plan.upstream),
        publicModel: chain.publicModel,
        grant,
        promptEstimate: plan.estimate.promptTokens,
        retryCap: plan.upstream.kind === "multipart" ? 0 : Number.POSITIVE_INFINITY,
        health,
      });
      answered = true;
      if (watching) scope.signal.removeEventListener("abort", onClientGone);

      // 7. Settle: a JSON answer waits for it here, a stream holds its last event until then.
      const { target, attempts } = dispatched;
      // An answer cut short by a grant lowered to the key's room at this moment is not the request's answer to keep.
      const lowered = grant.completionTokens !== null && grant.completionTokens < plan.estimate.completionTokens;
      const answer = cache && !lowered ? cacheAnswer(cache, dispatched.answer, scope.waitUntil) : dispatched.answer;
      const price = admission.prices?.has(target) ? (admission.prices.get(target) ?? null) : priceOf(routed, chain, target);
      // A request that runs no model is charged nothing, whatever its answer reports.
      const { settled, outcome } = settleAnswer(plan.metered ? answer : uncharged(answer), ticket, price, plan.estimate, grant);
      if (ticket) scope.waitUntil(settled);
      if (isChatTemplated(plan.requestType)) learnFromUsage(answer.usage, templateModel(target.provider.name, target.upstreamModel), plan.estimate.promptTokens);

      // 8. Log: the request log writes the row once the outcome is known.
      // Attempts count every origin asked: the failed chains' and this one's.
      recordRoute(trace, target, chain.publicModel, failedAttempts + attempts, position);
      trace.outcome = outcome;
      if (answer.holdEnd) answer.holdEnd(settled);
      else await settled;
      return withRouteHeaders(answer.response, target, failedAttempts + attempts, position);
    } catch (error) {
      failedAttempts += attemptsOf(error);
      if (position === 0) primaryError = error;
      firstError ??= error;
      logAttemptFailure(scope.requestId, position, chain, error);
      if (!worthFallback(error)) break;
    }
  }
  if (ticket) await releaseLater(ticket);
  if (first) recordRoute(trace, first, routed.publicModel, failedAttempts, 0);
  const failure = primaryError ?? firstError;
  if (failure instanceof GatewayError && failedAttempts > 0) failure.headers["x-bf-attempts"] = String(failedAttempts);
  throw failure;
}
