/**
 * The request path every inference endpoint shares, top to bottom: authenticate the virtual key, resolve the model
 * to candidate origins, admit the request in the key's Durable Object (one call, before any origin is contacted),
 * dispatch, and settle actual usage from waitUntil once the response has finished — failures release the
 * reservation, disconnects are charged for what was delivered.
 */
import type { MiddlewareHandler } from "hono";
import type { RequestType } from "../config/schema";
import type { AppEnv } from "../env";
import { getRoutingTable } from "../config/store";
import { waitUntilOf, type AppContext } from "../http/context";
import { GatewayError, asGatewayError } from "../http/errors";
import { admitRequest, limiterFor, releaseReservation, settleUsage, type AdmissionTicket, type TokenEstimate } from "../governance/admission";
import { otherCredential, presentedVirtualKey } from "../governance/credentials";
import { EPHEMERAL_PREFIX, requireSecret, tokenAllowsModel, verifyToken, type TokenClaims } from "../governance/ephemeral";
import { findVirtualKey, findVirtualKeyById, hashKeyValue } from "../governance/key-store";
import { dollars } from "../governance/limiter-denials";
import { costNanos, type Price } from "../governance/pricing";
import { meteredUsage, priceOf, pricedTargets } from "./charges";
import type { RequestTrace } from "../observability/log-row";
import { resolveForVirtualKey, type GovernedResolution } from "../governance/routing";
import type { VirtualKeyRecord } from "../governance/schema";
import { dispatch } from "../routing/dispatch";
import { beginAttempt, endAttempt, healthSettings, isAvailable, orderTargets, recordFailure, recordSuccess, syncHealth } from "../routing/health";
import { resolveModel, type Resolution, type Target } from "../routing/resolve";
import type { RoutingTable } from "../routing/table";
import type { Answer } from "../upstream/respond";
import { withRouteHeaders } from "./route-headers";
import { settingsOf } from "../settings";

const MAX_KEY_LENGTH = 256;

function unauthorized(type: string, message: string): GatewayError {
  return new GatewayError(401, message, type, { type });
}

/** Who is calling: a virtual key, possibly through one of its ephemeral tokens. */
export interface Principal {
  vk: VirtualKeyRecord;
  token: TokenClaims | null;
}

/**
 * Browser requests (they carry Origin) are accepted only from the origins the credential allows: an ephemeral token's
 * one origin, a virtual key's allowed_origins, or KEYLESS_ALLOWED_ORIGINS for keyless requests. Refused before any
 * origin is contacted.
 */
function checkOrigin(c: AppContext, principal: Principal | null): void {
  const origin = c.req.header("origin");
  if (principal?.token) {
    if (origin !== principal.token.origin) {
      throw new GatewayError(403, `this ephemeral token may only be used from ${principal.token.origin}`, "origin_not_allowed", { type: "origin_not_allowed" });
    }
    return;
  }
  if (origin === undefined) return;
  const allowed = principal ? principal.vk.allowed_origins : settingsOf(c.env).KEYLESS_ALLOWED_ORIGINS;
  if (!allowed.includes("*") && !allowed.includes(origin)) {
    const holder = principal ? `virtual key '${principal.vk.name}'` : "keyless requests";
    throw new GatewayError(403, `origin ${origin} is not allowed for ${holder}`, "origin_not_allowed", { type: "origin_not_allowed" });
  }
}

/** The id or name of a virtual key, sent where its `sk-bf-…` value belongs: a 401 that says so. */
function nameAsCredential(name: string): GatewayError {
  return unauthorized(
    "virtual_key_name_as_credential",
    `'${name.slice(0, 128)}' is the id or name of a virtual key, not its credential: send the key's value (sk-bf-…, shown once when the key was created) as x-bf-vk, Authorization: Bearer or x-api-key`,
  );
}

async function principalFor(c: AppContext, presented: string): Promise<Principal> {
  if (presented.startsWith(EPHEMERAL_PREFIX)) {
    const claims = await verifyToken(presented, requireSecret(c.env.EPHEMERAL_TOKEN_SECRET));
    const parent = await findVirtualKeyById(c.env, claims.vk);
    if (!parent || parent.created_at !== claims.kc) throw unauthorized("virtual_key_not_found", "the virtual key behind this ephemeral token no longer exists");
    if (!parent.is_active) throw unauthorized("virtual_key_blocked", `virtual key '${parent.name}' behind this ephemeral token is inactive`);
    // Revocations live in the key's Durable Object: asked here, so no route serves a revoked token.
    if (await limiterFor(c.env, parent).tokenRevoked(claims.id, claims.iat)) throw unauthorized("ephemeral_token_revoked", "ephemeral token has been revoked");
    return { vk: parent, token: claims };
  }
  if (presented.length > MAX_KEY_LENGTH || /\s/.test(presented)) throw unauthorized("virtual_key_not_found", "malformed virtual key");
  const record = await findVirtualKey(c.env, await hashKeyValue(presented));
  if (!record) {
    if ((await getRoutingTable(c.env, waitUntilOf(c))).virtualKeyNames.has(presented)) throw nameAsCredential(presented);
    throw unauthorized("virtual_key_not_found", "virtual key not found: it does not exist or has been deleted");
  }
  if (!record.is_active) throw unauthorized("virtual_key_blocked", `virtual key '${record.name}' is inactive`);
  return { vk: record, token: null };
}

/**
 * The caller (checked against the request's Origin), or null for a keyless request where those are allowed. Every
 * route calls this first, before reading a body: unknown, inactive and revoked credentials never get further.
 */
export async function authenticate(c: AppContext): Promise<Principal | null> {
  const headers = c.req.raw.headers;
  const presented = presentedVirtualKey(headers);
  if (presented === undefined) {
    // A key's id or name in place of its value is a mistake to point out, never a silently ungoverned request.
    const other = otherCredential(headers);
    if (other !== undefined && other.length <= MAX_KEY_LENGTH && (await getRoutingTable(c.env, waitUntilOf(c))).virtualKeyNames.has(other)) throw nameAsCredential(other);
    if (settingsOf(c.env).REQUIRE_VIRTUAL_KEY) {
      throw unauthorized("virtual_key_required", "virtual key is required: send it as x-bf-vk, Authorization: Bearer sk-bf-…, or x-api-key");
    }
  }
  const principal = presented === undefined ? null : await principalFor(c, presented);
  checkOrigin(c, principal);
  return principal;
}

export interface RouteRequest {
  model: string;
  requestType: RequestType;
  defaultProvider?: string | undefined;
  estimate: TokenEstimate;
  /** `fallbacks` from the request body: models to try, in order, when the primary fails. */
  fallbacks?: readonly string[] | undefined;
  /** The start of the prompt, for providers that keep conversations on the replica caching their prefix. */
  promptPrefix?: (() => string | undefined) | undefined;
}

/** A model to try and, under a virtual key, the provider config whose limits it counts against. */
export interface Chain extends Resolution {
  scope: string | null;
}

export interface Routed extends Resolution {
  table: RoutingTable;
  vk: VirtualKeyRecord | null;
  /** The ephemeral token the request came with, whose own limits apply on top of its key's. */
  token: TokenClaims | null;
  scope: string | null;
  /** Further models to try, in order, when every attempt at the primary failed. */
  fallbacks: Chain[];
  sessionId: string | undefined;
  promptPrefix: (() => string | undefined) | undefined;
}

/** Authenticates inference requests before their bodies are read: an unknown caller never costs a parse. */
export const authenticateFirst: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.method === "POST") c.set("principal", await authenticate(c));
  return next();
};

export async function route(c: AppContext, request: RouteRequest): Promise<Routed> {
  const known = c.get("principal");
  const principal = known !== undefined ? known : await authenticate(c);
  const vk = principal?.vk ?? null;
  const token = principal?.token ?? null;
  const trace = traceOf(c);
  if (vk) trace.virtualKey = { id: vk.id, name: vk.name };
  const table = await getRoutingTable(c.env, waitUntilOf(c));
  const resolve = (model: string): Resolution & Partial<Pick<GovernedResolution, "alternates" | "providerConfig">> =>
    vk ? resolveForVirtualKey(table, vk, model, request.requestType, request.defaultProvider) : resolveModel(table, model, request.requestType, request.defaultProvider);
  const primary = resolve(request.model);
  trace.model = primary.publicModel;
  const allowedForToken = (resolution: Resolution) => !token || tokenAllowsModel(token, resolution.publicModel, resolution.targets[0]?.provider.name);
  if (!allowedForToken(primary)) {
    throw new GatewayError(403, `this ephemeral token may not use model '${request.model}'`, "model_blocked", { type: "model_blocked", param: "model" });
  }
  const chainOf = (resolution: ReturnType<typeof resolve>): Chain => ({ publicModel: resolution.publicModel, targets: resolution.targets, scope: resolution.providerConfig?.id ?? null });
  const fallbacks: Chain[] = [];
  for (const model of request.fallbacks ?? []) {
    try {
      fallbacks.push(chainOf(resolve(model)));
    } catch (error) {
      // A fallback that cannot be routed is a failed attempt, not a failed request.
      console.log(JSON.stringify({ event: "fallback_unroutable", request_id: c.get("requestId"), model, error: asGatewayError(error).message }));
    }
  }
  // Under a virtual key, a bare model's other weighted provider configs are its fallbacks unless the request names some.
  if (request.fallbacks === undefined && primary.alternates) fallbacks.push(...primary.alternates.map(chainOf));
  const scope = primary.providerConfig?.id ?? null;
  const sessionId = c.req.header("x-session-id") ?? c.req.header("x-bf-session-id") ?? undefined;
  // A token's model scope covers fallbacks too.
  return { publicModel: primary.publicModel, targets: primary.targets, table, vk, token, scope, fallbacks: fallbacks.filter(allowedForToken), sessionId, promptPrefix: request.promptPrefix };
}

export interface ServeOptions {
  /** The request body can be sent only once (a streamed upload): one attempt, no retries. */
  once?: boolean;
}

/** Origin failures worth another model: the origin broke, was busy or lacks the model — not the client's own mistakes. */
function worthFallback(error: unknown): boolean {
  const failure = asGatewayError(error);
  return failure.code !== "client_closed_request" && (failure.status >= 500 || failure.status === 429 || failure.status === 404);
}

/** Failures that say something about the origin's health (not configuration, not the client leaving). */
function isOriginFailure(error: unknown): boolean {
  const failure = asGatewayError(error);
  return failure.status >= 500 && !["provider_config_unresolved", "client_closed_request", "internal_error"].includes(failure.code ?? "");
}

/** What keeps a request on one replica: the session header, or — where the provider asks for it — the prompt prefix. */
function affinityKey(routed: Routed, first: Target | undefined): string | undefined {
  const mode = first?.provider.sessionAffinity ?? "header";
  if (mode === "none") return undefined;
  return routed.sessionId ?? (mode === "prompt_prefix" ? routed.promptPrefix?.() : undefined);
}

/** What an attempt may ask of the origin: the completion limit per choice that was reserved (null: none was). */
export interface Grant {
  completionTokens: number | null;
}

/** One attempt at the origin: the target to call, the model name the client should see, and the grant. */
export type Attempt = (target: Target, publicModel: string, grant: Grant) => Promise<Answer>;

function logged(promise: Promise<void>, what: string): Promise<void> {
  return promise.catch((error: unknown) => console.error(`${what} failed:`, error));
}

/**
 * Admits, dispatches over the primary's candidates (with retries), then over each fallback in turn, and settles.
 * The settlement reaches the key's Durable Object before the response's last byte: a JSON answer waits for it, a
 * stream holds its final event until then. When everything fails the client gets the primary's error.
 */
export async function serve(c: AppContext, routed: Routed, estimate: TokenEstimate, attempt: Attempt, options: ServeOptions = {}): Promise<Response> {
  const first = routed.targets[0];
  const chains: Chain[] = options.once ? [routed] : [routed, ...routed.fallbacks];
  const waitUntil = waitUntilOf(c);
  const settings = healthSettings(c.env);
  let ticket: AdmissionTicket | null = null;
  // Also under waitUntil: a client that left has cancelled the request itself, and its reservation must still go.
  const release = (held: AdmissionTicket) => {
    const released = logged(releaseReservation(held), `releasing reservation ${held.reservationId}`);
    waitUntil(released);
    return released;
  };
  // Health bookkeeping around every attempt: in-flight counts, and failures that are the origin's fault.
  const tracked = (chain: Resolution, grant: Grant) => async (target: Target): Promise<Answer> => {
    beginAttempt(target);
    try {
      const answer = await attempt(target, chain.publicModel, grant);
      recordSuccess(target);
      void answer.usage.then((usage) => {
        endAttempt(target);
        if (usage.originFailed) recordFailure(target, settings, waitUntil);
      });
      return answer;
    } catch (error) {
      endAttempt(target);
      if (isOriginFailure(error)) recordFailure(target, settings, waitUntil);
      throw error;
    }
  };
  // A client that leaves before the first byte cancels this request's own code; the abort event still runs, so the
  // reservation held at that moment is given back from there (after the answer started, its settlement does it).
  let answered = false;
  const clientSignal = c.req.raw.signal;
  const onClientGone = () => {
    if (ticket && !answered) void release(ticket);
  };
  clientSignal.addEventListener("abort", onClientGone, { once: true });
  let primaryError: unknown;
  let firstError: unknown;
  for (const { chain, position: index } of healthFirst(chains)) {
    let targets: Target[];
    let reservePrice: Price | null = null;
    let prices: ReadonlyMap<Target, Price | null> | undefined;
    try {
      ({ targets, price: reservePrice, prices } = routed.vk ? pricedTargets(routed, chain, estimate) : { targets: chain.targets, price: null, prices: undefined });
      // A fallback through another provider config counts against that config's own limits: move the reservation.
      if (ticket && chain.scope !== ticket.scope) {
        await release(ticket);
        ticket = null;
      }
      if (!ticket && routed.vk && chain.scope !== null && targets[0]) ticket = await admitRequest(c.env, routed.vk, chain.scope, estimate, reservePrice, routed.token);
    } catch (error) {
      // The key's own limits refused: final for the primary; a fallback that is refused is a failed attempt.
      if (index === 0) throw error;
      logAttemptFailure(c, index, chain, error);
      continue;
    }
    try {
      const grant: Grant = { completionTokens: ticket && estimate.completionTokens > 0 ? ticket.completionTokens : null };
      syncHealth(targets, waitUntil);
      const ordered = orderTargets(targets, affinityKey(routed, targets[0]));
      const dispatched = await dispatch(ordered, tracked(chain, grant), clientSignal, options.once ? 0 : undefined);
      answered = true;
      clientSignal.removeEventListener("abort", onClientGone);
      const price = prices?.has(dispatched.target) ? (prices.get(dispatched.target) ?? null) : priceOf(routed, chain, dispatched.target);
      const answer = dispatched.answer;
      const admitted = ticket;
      const metered = answer.usage.then((usage) => meteredUsage(usage, estimate, grant));
      const settled = admitted ? logged(metered.then((usage) => settleUsage(admitted, usage, price)), `settling reservation ${admitted.reservationId}`) : Promise.resolve();
      waitUntil(settled);
      recordRoute(c, dispatched.target, chain.publicModel, dispatched.attempts, index);
      traceOf(c).outcome = Promise.all([answer.usage, metered]).then(([usage, charged]) => ({
        promptTokens: charged.promptTokens,
        completionTokens: charged.completionTokens,
        cost: dollars(costNanos(price, charged)),
        firstTokenAt: usage.firstTokenAt,
        errorCode: usage.failureCode,
        responseBody: usage.responseBody,
      }));
      // The key's next request must see this one settled: streams hold their last event, other answers wait here.
      if (answer.holdEnd) answer.holdEnd(settled);
      else await settled;
      const response = withRouteHeaders(answer.response, dispatched.target, dispatched.attempts);
      if (index > 0) response.headers.set("x-bf-fallback-index", String(index));
      return response;
    } catch (error) {
      if (index === 0) primaryError = error;
      firstError ??= error;
      logAttemptFailure(c, index, chain, error);
      if (!worthFallback(error)) break;
    }
  }
  if (ticket) await release(ticket);
  if (first) recordRoute(c, first, routed.publicModel, 0, 0);
  throw primaryError ?? firstError;
}

/**
 * The models to try, those with an origin that is available first: a primary whose every origin has an open circuit
 * (it failed or hung, as seen here or by the probe) is tried after its fallbacks and a key's other provider configs,
 * so a hung origin costs a few timeouts per cool-down, not one per request. `position` is the place in the order the
 * client and the key gave, for x-bf-fallback-index.
 */
function healthFirst(chains: readonly Chain[]): { chain: Chain; position: number }[] {
  const now = Date.now();
  const ranked = chains.map((chain, position) => ({ chain, position, available: chain.targets.some((target) => isAvailable(target, now)) }));
  return [...ranked.filter((entry) => entry.available), ...ranked.filter((entry) => !entry.available)];
}

function logAttemptFailure(c: AppContext, index: number, chain: Chain, error: unknown): void {
  const failure = asGatewayError(error);
  console.log(JSON.stringify({ event: "attempt_failed", request_id: c.get("requestId"), fallback_index: index, model: chain.publicModel, status: failure.status, code: failure.code, message: failure.message }));
}

/** Where the request went, for its log row. */
function recordRoute(c: AppContext, target: Target, model: string, attempts: number, fallbackIndex: number): void {
  const trace = traceOf(c);
  trace.provider = target.provider.name;
  trace.providerKey = target.key.name;
  trace.origin = target.key.originHost;
  trace.model = model;
  trace.servedModel = target.upstreamModel;
  // A name the key's configuration chose (pinned, listed, aliased) — not one the client made up and the key passed on.
  trace.servedModelConfigured = target.key.modelName !== undefined || target.key.models !== null || [...target.key.aliases.values()].includes(target.upstreamModel);
  trace.attempts = attempts;
  trace.fallbackIndex = fallbackIndex;
}

/** The request's trace (an empty one outside the logged routes). */
export function traceOf(c: AppContext): RequestTrace {
  let trace = c.get("trace");
  if (!trace) {
    trace = {};
    c.set("trace", trace);
  }
  return trace;
}
