/**
 * The request path every inference endpoint shares, top to bottom: authenticate the virtual key, resolve the model
 * to candidate origins, admit the request in the key's Durable Object (one call, before any origin is contacted),
 * dispatch, and settle actual usage from waitUntil once the response has finished — failures release the
 * reservation, disconnects are charged for what was delivered.
 */
import type { RequestType } from "../config/schema";
import { getRoutingTable } from "../config/store";
import { waitUntilOf, type AppContext } from "../http/context";
import { GatewayError } from "../http/errors";
import { admitRequest, settleUsage, type AdmissionTicket, type TokenEstimate } from "../governance/admission";
import { presentedVirtualKey } from "../governance/credentials";
import { findVirtualKey, hashKeyValue } from "../governance/key-store";
import { FREE, priceFor, type Price } from "../governance/pricing";
import { resolveForVirtualKey } from "../governance/routing";
import type { VirtualKeyRecord } from "../governance/schema";
import { dispatch } from "../routing/dispatch";
import { resolveModel, type Resolution, type Target } from "../routing/resolve";
import type { RoutingTable } from "../routing/table";
import { NO_USAGE, type Answer, type UsageReport } from "../upstream/respond";
import { withRouteHeaders } from "./route-headers";

const MAX_KEY_LENGTH = 256;

function unauthorized(type: string, message: string): GatewayError {
  return new GatewayError(401, message, type, { type });
}

/** The caller's virtual key, or null for a keyless request where those are allowed. */
export async function authenticate(c: AppContext): Promise<VirtualKeyRecord | null> {
  const presented = presentedVirtualKey(c.req.raw.headers);
  if (presented === undefined) {
    if (c.env.REQUIRE_VIRTUAL_KEY === "true") {
      throw unauthorized("virtual_key_required", "virtual key is required: send it as x-bf-vk, Authorization: Bearer sk-bf-…, or x-api-key");
    }
    return null;
  }
  if (presented.length > MAX_KEY_LENGTH || /\s/.test(presented)) throw unauthorized("virtual_key_not_found", "malformed virtual key");
  const record = await findVirtualKey(c.env, await hashKeyValue(presented));
  if (!record) throw unauthorized("virtual_key_not_found", "virtual key not found: it does not exist or has been deleted");
  return record;
}

export interface RouteRequest {
  model: string;
  requestType: RequestType;
  defaultProvider?: string | undefined;
  estimate: TokenEstimate;
}

export interface Routed extends Resolution {
  table: RoutingTable;
  vk: VirtualKeyRecord | null;
  scope: string | null;
}

export async function route(c: AppContext, request: RouteRequest): Promise<Routed> {
  const vk = await authenticate(c);
  const table = await getRoutingTable(c.env, waitUntilOf(c));
  if (!vk) return { ...resolveModel(table, request.model, request.requestType, request.defaultProvider), table, vk, scope: null };
  const governed = resolveForVirtualKey(table, vk, request.model, request.requestType, request.defaultProvider);
  return { ...governed, table, vk, scope: governed.providerConfig.id };
}

function priceOf(routed: Routed, target: Target): Price {
  if (routed.table.pricing.length === 0) return FREE;
  const prefix = `${target.provider.name}/`;
  const model = routed.publicModel.startsWith(prefix) ? routed.publicModel.slice(prefix.length) : routed.publicModel;
  return priceFor(routed.table.pricing, { provider: target.provider.name, keyName: target.key.name, virtualKeyId: routed.vk?.id ?? null, model });
}

function settleLater(c: AppContext, ticket: AdmissionTicket, usage: Promise<UsageReport>, price: Price): void {
  waitUntilOf(c)(
    usage
      .then((report) => settleUsage(ticket, report, price))
      .catch((error: unknown) => console.error(`settling reservation ${ticket.reservationId} failed:`, error)),
  );
}

export interface ServeOptions {
  /** The request body can be sent only once (a streamed upload): one attempt, no retries. */
  once?: boolean;
}

/** Admits, dispatches over the candidates (with retries) and arranges settlement. */
export async function serve(
  c: AppContext,
  routed: Routed,
  estimate: TokenEstimate,
  attempt: (target: Target) => Promise<Answer>,
  options: ServeOptions = {},
): Promise<Response> {
  const first = routed.targets[0];
  let ticket: AdmissionTicket | null = null;
  if (routed.vk && routed.scope && first) ticket = await admitRequest(c.env, routed.vk, routed.scope, estimate, priceOf(routed, first));
  try {
    const dispatched = await dispatch(routed.targets, attempt, c.req.raw.signal, options.once ? 0 : undefined);
    if (ticket) settleLater(c, ticket, dispatched.answer.usage, priceOf(routed, dispatched.target));
    return withRouteHeaders(dispatched.answer.response, dispatched.target, dispatched.attempts);
  } catch (error) {
    if (ticket) settleLater(c, ticket, Promise.resolve(NO_USAGE), FREE);
    throw error;
  }
}
