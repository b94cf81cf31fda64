/**
 * Admin API guard: `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time. With no token configured the
 * API is closed — except, when LOCAL_ADMIN_WITHOUT_TOKEN is "true", for requests addressed to a loopback host, which
 * only a local `wrangler dev` can receive.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { GatewayError } from "../http/errors";

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);
const encoder = new TextEncoder();

async function sameToken(presented: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(presented)),
    crypto.subtle.digest("SHA-256", encoder.encode(expected)),
  ]);
  return crypto.subtle.timingSafeEqual(a, b);
}

export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const expected = c.env.ADMIN_TOKEN;
  if (!expected) {
    if (c.env.LOCAL_ADMIN_WITHOUT_TOKEN === "true" && LOOPBACK_HOSTS.has(new URL(c.req.url).hostname)) return next();
    throw new GatewayError(403, "the admin API is disabled: set the ADMIN_TOKEN secret to enable it", "admin_disabled");
  }
  const presented = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "")?.[1]?.trim();
  if (!presented || !(await sameToken(presented, expected))) {
    throw new GatewayError(401, "missing or invalid admin token: send Authorization: Bearer <ADMIN_TOKEN>", "invalid_admin_token");
  }
  return next();
};
