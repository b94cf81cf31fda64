/**
 * The gateway's HTTP surface: two Hono apps behind one path check. Inference (/v1 and its drop-in aliases, health)
 * runs on Hono's RegExpRouter, one precompiled match per request; the admin API, metrics and dashboard have routes
 * that router cannot express together (a static segment beside a parameter at one level), so they get TrieRouter
 * (http/apps.ts). In both, a request gets an id and every failure passes the one error handler.
 */
import { regExpApp, routeGroup, type App } from "./http/apps";
import type { Env } from "./env";
import { configRoutes } from "./admin/config-import";
import { requireAdmin } from "./admin/auth";
import { pricingRoutes } from "./admin/pricing";
import { logRoutes } from "./admin/logs";
import { providerRoutes } from "./admin/providers";
import { virtualKeyRoutes } from "./admin/virtual-keys";
import { groupRoutes } from "./admin/groups";
import { ensureDefaults } from "./config/store";
import { handleMintToken, handleRevokeAllTokens, handleRevokeToken } from "./endpoints/ephemeral-tokens";
import { browserChatPage } from "./endpoints/example-page";
import { authenticateFirst } from "./pipeline/authenticate";
import { handleQuota } from "./endpoints/quota";
import { anthropicErrorResponse } from "./convert/messages-response";
import { cors } from "./http/cors";
import { dashboardPage } from "./ui/page";
import { renderMetrics, type CounterRow } from "./observability/metrics";
import { requestLog } from "./observability/request-log";
import { anthropicRoutes, inferenceRoutes, vllmRootRoutes } from "./endpoints/routes";
import type { AppEnv } from "./env";
import { settingsOf } from "./settings";
import { requestIdFor } from "./http/context";
import { GatewayError, asGatewayError, errorResponse, jsonResponse } from "./http/errors";

/** The one place errors are shaped: Anthropic's SDKs expect Anthropic's shape on every Messages route and under /anthropic. */
function shapedError(path: string, error: GatewayError, requestId: string): Response {
  if (/\/messages(\/count_tokens)?$/.test(path) || path.startsWith("/anthropic/")) return anthropicErrorResponse(error, requestId);
  return errorResponse(error, requestId);
}

/** A Hono app with what every route shares: the request id, the settings check, the error shape. */
function gatewayApp(app: App): App {

  app.use(async (c, next) => {
    const requestId = requestIdFor(c.req.raw);
    c.set("requestId", requestId);
    // A misconfigured gateway says so on every request (parsed once per isolate), rather than running on defaults.
    settingsOf(c.env);
    await next();
    if (!c.res.headers.has("x-request-id")) c.res.headers.set("x-request-id", requestId);
  });

  app.onError((thrown, c) => {
    const requestId = c.get("requestId");
    let error = asGatewayError(thrown);
    if (!(thrown instanceof GatewayError)) {
      // A defect: the details go to the logs, the client gets the request id to quote.
      console.error(JSON.stringify({ event: "internal_error", request_id: requestId, path: c.req.path, error: thrown instanceof Error ? (thrown.stack ?? thrown.message) : String(thrown) }));
      error = new GatewayError(500, `internal gateway error; quote request id ${requestId} when reporting it`, "internal_error");
    }
    const trace = c.get("trace");
    if (trace) trace.errorCode = error.code ?? undefined;
    return shapedError(c.req.path, error, requestId);
  });
  app.notFound((c) => shapedError(c.req.path, new GatewayError(404, `no route for ${c.req.method} ${c.req.path.slice(0, 200)}`, "route_not_found"), c.get("requestId")));
  return app;
}

function inferenceApp(): App {
  const app = gatewayApp(regExpApp());
  app.get("/health", () => jsonResponse({ status: "ok" }));

  const vllmRoot = vllmRootRoutes();
  const rootPaths = vllmRoot.routes.map((route) => route.path);
  for (const prefix of ["/v1/*", "/openai/*", "/vllm/*", "/anthropic/*", ...rootPaths]) app.use(prefix, cors, requestLog, authenticateFirst);
  app.get("/examples/browser-chat", () => browserChatPage());

  const inference = inferenceRoutes();
  app.route("/v1", inference);
  app.route("/openai/v1", inference);
  app.route("/openai", inference);
  // Bare model names on these prefixes are vLLM models (base_url "http://gateway/vllm" in the OpenAI SDK).
  const vllm = inferenceRoutes("vllm");
  app.route("/vllm/v1", vllm);
  app.route("/vllm", vllm);
  app.route("/anthropic", anthropicRoutes());
  app.route("/", vllmRoot);
  return app;
}

function adminApp(): App {
  const app = gatewayApp(routeGroup());
  app.get("/ui", () => dashboardPage());
  app.get("/", (c) => c.redirect("/ui"));
  // Authenticated by the virtual key itself, so it sits before the admin guard. A browser app holding a key may read
  // its quota (CORS, the key's allowed_origins checked as for inference); the token routes are for backends.
  app.use("/api/governance/virtual-keys/quota", cors);
  app.get("/api/governance/virtual-keys/quota", (c) => handleQuota(c));
  app.post("/api/governance/virtual-keys/ephemeral-tokens", (c) => handleMintToken(c));
  app.delete("/api/governance/virtual-keys/ephemeral-tokens", (c) => handleRevokeAllTokens(c));
  app.delete("/api/governance/virtual-keys/ephemeral-tokens/:id", (c) => handleRevokeToken(c, c.req.param("id")));
  app.use("/api/*", requireAdmin, async (c, next) => {
    await ensureDefaults(c.env);
    await next();
  });
  app.route("/api/providers", providerRoutes);
  app.route("/api/config", configRoutes);
  app.route("/api/governance/virtual-keys", virtualKeyRoutes);
  app.route("/api/governance/teams", groupRoutes("team"));
  app.route("/api/governance/customers", groupRoutes("customer"));
  app.route("/api/governance/pricing-overrides", pricingRoutes);
  app.route("/api/logs", logRoutes);
  // Prometheus scrapes with the admin token as its bearer token.
  app.get("/metrics", requireAdmin, async (c) => {
    const { results } = await c.env.DB.prepare("SELECT name, labels, value FROM metric_counters").all<CounterRow>();
    return new Response(renderMetrics(results), { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
  });

  return app;
}

/** The admin app's paths; everything else is inference (whose not-found answer covers unknown paths). */
function isAdminPath(url: string): boolean {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start === -1) return true;
  const path = url.slice(start);
  return path === "/" || path.startsWith("/?") || path.startsWith("/api/") || path.startsWith("/metrics") || path.startsWith("/ui");
}

export interface Gateway {
  fetch(request: Request, env: Env, ctx?: ExecutionContext): Response | Promise<Response>;
}

export function buildApp(): Gateway {
  const inference = inferenceApp();
  const admin = adminApp();
  return { fetch: (request, env, ctx) => (isAdminPath(request.url) ? admin : inference).fetch(request, env, ctx) };
}
