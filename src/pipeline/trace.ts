/** Step 8 of an inference request: what its log row records, filled in along the way (the request log writes it). */
import type { AppContext } from "../http/context";
import type { RequestTrace } from "../observability/log-row";
import type { Target } from "../routing/resolve";
import { passthroughOf, type Tracing } from "../telemetry/spans";

/** The request's trace (an empty one outside the logged routes). */
export function traceOf(c: AppContext): RequestTrace {
  let trace = c.get("trace");
  if (!trace) {
    trace = {};
    c.set("trace", trace);
  }
  return trace;
}

/** The request's recording span, or — when nothing is recorded — the caller's trace context to pass on. */
export function tracingOf(c: AppContext): Tracing {
  return c.get("requestSpan") ?? passthroughOf(c.req.raw.headers);
}

/** Where the request went. */
export function recordRoute(trace: RequestTrace, target: Target, model: string, attempts: number, fallbackIndex: number): void {
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

/** Names the provider that answered and how many attempts it took. Responses here are gateway-built, so mutable. */
export function withRouteHeaders(response: Response, target: Target, attempts: number, fallbackIndex: number): Response {
  response.headers.set("x-bf-provider", target.provider.name);
  response.headers.set("x-bf-attempts", String(attempts));
  if (fallbackIndex > 0) response.headers.set("x-bf-fallback-index", String(fallbackIndex));
  return response;
}
