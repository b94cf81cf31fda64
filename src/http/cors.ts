/**
 * CORS for the inference routes, answered at the edge. Preflights are allowed for any origin — a preflight carries no
 * credentials, so the decision is made on the real request, where the credential's allowed origins are checked
 * (governed.ts) before any origin is contacted. Every answer to a browser names its origin, so pages can read
 * refusals too.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";

const EXPOSED = [
  "x-request-id",
  "request-id",
  "x-bf-provider",
  "x-bf-attempts",
  "x-bf-fallback-index",
  "x-bf-cache",
  "retry-after",
  "x-ratelimit-limit-requests",
  "x-ratelimit-remaining-requests",
  "x-ratelimit-reset-requests",
  "x-ratelimit-limit-tokens",
  "x-ratelimit-remaining-tokens",
  "x-ratelimit-reset-tokens",
  "x-ratelimit-limit-concurrency",
  "x-ratelimit-remaining-concurrency",
].join(", ");

export const cors: MiddlewareHandler<AppEnv> = async (c, next) => {
  const origin = c.req.header("origin");
  if (origin === undefined) return next();
  if (c.req.method === "OPTIONS") {
    return new Response(null, {
      status: 204,
      headers: {
        "access-control-allow-origin": origin,
        "access-control-allow-methods": "GET, POST, OPTIONS",
        "access-control-allow-headers": c.req.header("access-control-request-headers") ?? "authorization, content-type, x-bf-vk, x-api-key",
        "access-control-max-age": "600",
        vary: "Origin",
      },
    });
  }
  await next();
  c.res.headers.set("access-control-allow-origin", origin);
  c.res.headers.set("access-control-expose-headers", EXPOSED);
  c.res.headers.append("vary", "Origin");
};
