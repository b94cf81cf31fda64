/**
 * /api/governance/virtual-keys/ephemeral-tokens — authenticated by the parent virtual key itself (a backend's),
 * never by a token: mint a short-lived token for a browser, revoke one, or revoke them all.
 */
import { parseOrThrow } from "../config/validation";
import { readJsonObject } from "../http/body";
import type { AppContext } from "../http/context";
import { GatewayError, jsonResponse } from "../http/errors";
import { limiterFor } from "../governance/admission";
import { claimsFor, isTokenIdOf, mintRequestSchema, mintTokenId, requireSecret, signToken } from "../governance/ephemeral";
import type { VirtualKeyRecord } from "../governance/schema";
import { authenticate } from "../pipeline/authenticate";

const BODY_LIMIT = 64 * 1024;
const MAX_LIFETIME_SECONDS = 86_400;

async function parentKey(c: AppContext): Promise<VirtualKeyRecord> {
  const principal = await authenticate(c);
  if (!principal) {
    throw new GatewayError(401, "Missing virtual key. Provide it via x-bf-vk header, Authorization Bearer, x-api-key, or x-goog-api-key header.", "virtual_key_required");
  }
  if (principal.token) throw new GatewayError(403, "an ephemeral token cannot mint or revoke tokens", "permission_denied");
  return principal.vk;
}

export async function handleMintToken(c: AppContext): Promise<Response> {
  const vk = await parentKey(c);
  const secret = requireSecret(c.env.EPHEMERAL_TOKEN_SECRET);
  const request = parseOrThrow(mintRequestSchema, await readJsonObject(c.req.raw, BODY_LIMIT), "ephemeral token request");
  // A key that names its browser origins mints tokens for those only; one that names none leaves it to its backend.
  const origins = vk.allowed_origins;
  if (origins.length > 0 && !origins.includes("*") && !origins.includes(request.allowed_origin)) {
    throw new GatewayError(403, `virtual key '${vk.name}' allows the origins ${origins.join(", ")}; it cannot mint a token for ${request.allowed_origin}`, "origin_not_allowed", { type: "origin_not_allowed", param: "allowed_origin" });
  }
  const claims = claimsFor(vk, request, await mintTokenId(vk.id, secret));
  return jsonResponse({
    token: await signToken(claims, secret),
    id: claims.id,
    virtual_key_id: vk.id,
    allowed_origin: claims.origin,
    expires_at: new Date(claims.exp * 1000).toISOString(),
    models: claims.models ?? null,
    budget: request.budget ?? null,
    rate_limit: request.rate_limit ?? null,
  });
}

export async function handleRevokeToken(c: AppContext, id: string): Promise<Response> {
  const vk = await parentKey(c);
  if (!(await isTokenIdOf(id, vk.id, requireSecret(c.env.EPHEMERAL_TOKEN_SECRET)))) {
    throw new GatewayError(404, `virtual key '${vk.name}' minted no ephemeral token with id '${id.slice(0, 128)}'`, "ephemeral_token_not_found", { param: "id" });
  }
  await limiterFor(c.env, vk).revokeToken(id, Math.floor(Date.now() / 1000) + MAX_LIFETIME_SECONDS);
  return jsonResponse({ message: `ephemeral token ${id} revoked` });
}

export async function handleRevokeAllTokens(c: AppContext): Promise<Response> {
  const vk = await parentKey(c);
  await limiterFor(c.env, vk).revokeAllTokens();
  return jsonResponse({ message: `every ephemeral token of virtual key '${vk.name}' issued so far is revoked` });
}
