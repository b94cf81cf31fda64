/** GET /api/governance/virtual-keys/quota, called with the virtual key itself: usage, remaining and reset of every limit. */
import { getRoutingTable } from "../config/store";
import { waitUntilOf, type AppContext } from "../http/context";
import { groupUsageOfKey } from "../governance/group-usage";
import { GatewayError, jsonResponse } from "../http/errors";
import { limiterFor } from "../governance/admission";
import { presentedVirtualKey } from "../governance/credentials";
import { authenticate } from "../pipeline/authenticate";
import { KEY_SCOPE, type QuotaReport } from "../governance/limits";

/**
 * Bifrost's `rate_limit` of this answer: the key's own windows, flat (`rate_limits` carries them with the provider
 * configs', in full); null when the key has no rate limit of its own.
 */
export function bifrostRateLimit(report: QuotaReport): Record<string, string | number | boolean | null> | null {
  const own = report.rate_limits.find((limit) => limit.scope === KEY_SCOPE);
  if (!own) return null;
  const flat = (prefix: "token" | "request", window: QuotaReport["rate_limits"][number]["tokens"]) => ({
    [`${prefix}_max_limit`]: window?.max_limit ?? null,
    [`${prefix}_current_usage`]: window?.current_usage ?? 0,
    [`${prefix}_reset_duration`]: window?.reset_duration ?? null,
    [`${prefix}_last_reset`]: window?.last_reset ?? null,
  });
  return { ...flat("token", own.tokens), ...flat("request", own.requests), calendar_aligned: (own.tokens ?? own.requests)?.calendar_aligned ?? false };
}

export async function handleQuota(c: AppContext): Promise<Response> {
  if (presentedVirtualKey(c.req.raw.headers) === undefined) {
    throw new GatewayError(401, "Missing virtual key. Provide it via x-bf-vk header, Authorization Bearer, x-api-key, or x-goog-api-key header.", "virtual_key_required", {
      type: "virtual_key_required",
    });
  }
  const principal = await authenticate(c);
  if (!principal) throw new GatewayError(401, "virtual key not found", "virtual_key_not_found");
  if (principal.token) throw new GatewayError(403, "an ephemeral token cannot read its key's quota", "permission_denied");
  const [quota, groups] = await Promise.all([limiterFor(c.env, principal.vk).quota(), groupUsageOfKey(c.env, await getRoutingTable(c.env, waitUntilOf(c)), principal.vk)]);
  if (!quota) throw new GatewayError(401, "virtual key not found: it does not exist or has been deleted", "virtual_key_not_found");
  return jsonResponse({ ...quota, rate_limit: bifrostRateLimit(quota), ...groups });
}
