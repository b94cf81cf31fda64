/** GET /api/governance/virtual-keys/quota, called with the virtual key itself: usage, remaining and reset of every limit. */
import { getRoutingTable } from "../config/store";
import { waitUntilOf, type AppContext } from "../http/context";
import { groupUsageOfKey } from "../governance/group-usage";
import { GatewayError, jsonResponse } from "../http/errors";
import { limiterFor } from "../governance/admission";
import { presentedVirtualKey } from "../governance/credentials";
import { authenticate } from "../pipeline/authenticate";

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
  return jsonResponse({ ...quota, ...groups });
}
