/**
 * Step 3 of an inference request: the model the client named, and its fallbacks, as chains of candidate targets.
 * Under a virtual key only what the key allows resolves, and a bare model's other weighted provider configs are its
 * fallbacks; an ephemeral token's model scope covers fallbacks too.
 */
import { asGatewayError, GatewayError } from "../http/errors";
import { tokenAllowsModel, type TokenClaims } from "../governance/ephemeral";
import { resolveForVirtualKey, type GovernedResolution } from "../governance/routing";
import type { VirtualKeyRecord } from "../governance/schema";
import { resolveModel, type Resolution, type Target } from "../routing/resolve";
import type { RoutingTable } from "../routing/table";
import type { Principal } from "./authenticate";
import type { InferencePlan } from "./plan";

/** A model to try and, under a virtual key, the provider config whose limits it counts against. */
export interface Chain extends Resolution {
  scope: string | null;
}

export interface Routed extends Chain {
  table: RoutingTable;
  vk: VirtualKeyRecord | null;
  /** The ephemeral token the request came with, whose own limits apply on top of its key's. */
  token: TokenClaims | null;
  /** Further models to try, in order, when every attempt at the primary failed. */
  fallbacks: Chain[];
}

type KeyResolution = Resolution & Partial<Pick<GovernedResolution, "alternates" | "providerConfig">>;

/** A provider key a request names (Bifrost's `x-bf-api-key-id` by id, `x-bf-api-key` by name): used alone, no rotation. */
export type PinnedKey = { id: string } | { name: string };

/** The key the request pins, if it names one (an empty header names none). */
export function pinnedKeyOf(headers: Headers): PinnedKey | undefined {
  const id = headers.get("x-bf-api-key-id");
  if (id) return { id };
  const name = headers.get("x-bf-api-key");
  return name ? { name } : undefined;
}

/**
 * The resolution narrowed to the pinned key (among the keys the request may use), with no other provider config to
 * fall to. A bare name under a virtual key may go through any of several provider configs: the pinned key decides which.
 */
function pinned(resolution: KeyResolution, pin: PinnedKey): KeyResolution {
  const isPinned = (target: Target) => ("id" in pin ? target.key.id === pin.id : target.key.name === pin.name);
  const candidates: KeyResolution[] = [resolution, ...(resolution.alternates ?? [])];
  for (const candidate of candidates) {
    const targets = candidate.targets.filter(isPinned);
    if (targets.length > 0) return { ...candidate, targets, alternates: [] };
  }
  const named = "id" in pin ? `with id '${pin.id.slice(0, 128)}' (x-bf-api-key-id)` : `named '${pin.name.slice(0, 128)}' (x-bf-api-key)`;
  const providers = [...new Set(candidates.flatMap((candidate) => candidate.targets.map((target) => target.provider.name)))];
  const among = providers.length > 0 ? providers.map((name) => `'${name}'`).join(" or ") : "the model's provider";
  throw new GatewayError(400, `no enabled key ${named} of provider ${among} serves model '${resolution.publicModel}' for this request`, "pinned_key_not_found");
}

function chainOf(resolution: KeyResolution): Chain {
  return { publicModel: resolution.publicModel, targets: resolution.targets, scope: resolution.providerConfig?.id ?? null };
}

export function resolveRoute(table: RoutingTable, principal: Principal | null, plan: InferencePlan, requestId: string, pin?: PinnedKey): Routed {
  const vk = principal?.vk ?? null;
  const token = principal?.token ?? null;
  const resolve = (model: string): KeyResolution =>
    vk
      ? resolveForVirtualKey(table, vk, model, plan.requestType, plan.defaultProvider, plan.unlistedProvider)
      : resolveModel(table, model, plan.requestType, plan.defaultProvider, plan.unlistedProvider);
  const resolved = resolve(plan.model);
  const primary = pin ? pinned(resolved, pin) : resolved;
  const allowedForToken = (resolution: Resolution) => !token || tokenAllowsModel(token, resolution.publicModel, resolution.targets[0]?.provider.name);
  if (!allowedForToken(primary)) {
    throw new GatewayError(403, `this ephemeral token may not use model '${plan.model}'`, "model_blocked", { type: "model_blocked", param: "model" });
  }
  const fallbacks: Chain[] = [];
  for (const model of plan.fallbacks ?? []) {
    try {
      fallbacks.push(chainOf(resolve(model)));
    } catch (error) {
      // A fallback that cannot be routed is a failed attempt, not a failed request.
      console.log(JSON.stringify({ event: "fallback_unroutable", request_id: requestId, model, error: asGatewayError(error).message }));
    }
  }
  // Under a virtual key, a bare model's other weighted provider configs are its fallbacks unless the request names some.
  if (plan.fallbacks === undefined && primary.alternates) fallbacks.push(...primary.alternates.map(chainOf));
  return { ...chainOf(primary), table, vk, token, fallbacks: fallbacks.filter(allowedForToken) };
}
