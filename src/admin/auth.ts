/**
 * Admin API guard: `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time. With no token configured the
 * API is closed — except, when LOCAL_ADMIN_WITHOUT_TOKEN is "true", for requests addressed to a loopback host, which
 * only a local `wrangler dev` can receive.
 *
 * Web pages cannot drive it: a request a browser marks as coming from another site or origin (Sec-Fetch-Site other
 * than same-origin or none, or an Origin that is not the gateway's own) is refused, and a write with a body must be
 * `application/json`, which no cross-site form or preflight-free fetch can send. The dashboard at /ui is same-origin.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { GatewayError } from "../http/errors";
import { settingsOf } from "../settings";

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);
const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const encoder = new TextEncoder();

async function sameToken(presented: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(presented)),
    crypto.subtle.digest("SHA-256", encoder.encode(expected)),
  ]);
  return crypto.subtle.timingSafeEqual(a, b);
}

/** Refuses requests a browser sent on behalf of another site or origin; clients that are not browsers send neither header. */
function refuseCrossSite(c: Context<AppEnv>): void {
  const site = c.req.header("sec-fetch-site");
  const origin = c.req.header("origin");
  const ownOrigin = new URL(c.req.url).origin;
  if ((site !== undefined && site !== "same-origin" && site !== "none") || (origin !== undefined && origin !== ownOrigin)) {
    throw new GatewayError(
      403,
      `the admin API does not accept requests from other sites or origins (${(origin !== undefined ? `Origin ${origin}` : `Sec-Fetch-Site ${site}`).slice(0, 200)}); use the dashboard at ${ownOrigin}/ui or a client that is not a browser`,
      "cross_site_request",
    );
  }
}

function hasBody(request: Request): boolean {
  return request.body !== null && request.headers.get("content-length") !== "0";
}

/** A write that carries a body must say it is JSON: a cross-site form or simple fetch can only send text/plain or form encodings. */
function requireJsonBody(c: Context<AppEnv>): void {
  if (!WRITES.has(c.req.method) || !hasBody(c.req.raw)) return;
  const type = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") {
    throw new GatewayError(415, `admin API writes must be sent with Content-Type: application/json${type ? `, not ${type}` : ""}`, "unsupported_media_type");
  }
}

export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  refuseCrossSite(c);
  const expected = c.env.ADMIN_TOKEN;
  if (!expected) {
    if (!settingsOf(c.env).LOCAL_ADMIN_WITHOUT_TOKEN || !LOOPBACK_HOSTS.has(new URL(c.req.url).hostname)) {
      throw new GatewayError(403, "the admin API is disabled: set the ADMIN_TOKEN secret to enable it", "admin_disabled");
    }
  } else {
    const presented = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "")?.[1]?.trim();
    if (!presented || !(await sameToken(presented, expected))) {
      throw new GatewayError(401, "missing or invalid admin token: send Authorization: Bearer <ADMIN_TOKEN>", "invalid_admin_token");
    }
  }
  requireJsonBody(c);
  return next();
};
