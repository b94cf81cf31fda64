/**
 * Step 1 of an inference request: who is calling. A virtual key (or one of its ephemeral tokens) from the request's
 * headers, checked against the request's Origin; or nobody, where keyless requests are allowed. Runs before any body
 * is read, so an unknown caller never costs a parse.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { getRoutingTable } from "../config/store";
import { waitUntilOf, type AppContext } from "../http/context";
import { GatewayError } from "../http/errors";
import { limiterFor } from "../governance/admission";
import { otherCredential, presentedVirtualKey } from "../governance/credentials";
import { EPHEMERAL_PREFIX, requireSecret, verifyToken, type TokenClaims } from "../governance/ephemeral";
import { findVirtualKey, findVirtualKeyById, hashKeyValue } from "../governance/key-store";
import type { VirtualKeyRecord } from "../governance/schema";
import { settingsOf } from "../settings";

const MAX_KEY_LENGTH = 256;

function unauthorized(type: string, message: string): GatewayError {
  return new GatewayError(401, message, type, { type });
}

/** A key that exists but is switched off: Bifrost's 403, not a 401 that says the credential is unknown. Logged under the key. */
function blocked(c: AppContext, record: VirtualKeyRecord, message: string): GatewayError {
  const trace = c.get("trace");
  if (trace) trace.virtualKey = { id: record.id, name: record.name };
  return new GatewayError(403, message, "virtual_key_blocked", { type: "virtual_key_blocked" });
}

/** A key past its `expires_at`: the credential no longer works (a 401, logged under the key). */
function expiredAt(c: AppContext, record: VirtualKeyRecord, holder: string): GatewayError | undefined {
  if (!record.expires_at || Date.parse(record.expires_at) > Date.now()) return undefined;
  const trace = c.get("trace");
  if (trace) trace.virtualKey = { id: record.id, name: record.name };
  return unauthorized("virtual_key_expired", `${holder} expired at ${record.expires_at}`);
}

/** Who is calling: a virtual key, possibly through one of its ephemeral tokens. */
export interface Principal {
  vk: VirtualKeyRecord;
  token: TokenClaims | null;
}

/**
 * Browser requests (they carry Origin) are accepted only from the origins the credential allows: an ephemeral token's
 * one origin, a virtual key's allowed_origins, or KEYLESS_ALLOWED_ORIGINS for keyless requests. Refused before any
 * origin is contacted.
 */
function checkOrigin(c: AppContext, principal: Principal | null): void {
  const origin = c.req.header("origin");
  if (principal?.token) {
    if (origin !== principal.token.origin) {
      throw new GatewayError(403, `this ephemeral token may only be used from ${principal.token.origin}`, "origin_not_allowed", { type: "origin_not_allowed" });
    }
    return;
  }
  if (origin === undefined) return;
  const allowed = principal ? principal.vk.allowed_origins : settingsOf(c.env).KEYLESS_ALLOWED_ORIGINS;
  if (!allowed.includes("*") && !allowed.includes(origin)) {
    const holder = principal ? `virtual key '${principal.vk.name}'` : "keyless requests";
    throw new GatewayError(403, `origin ${origin} is not allowed for ${holder}`, "origin_not_allowed", { type: "origin_not_allowed" });
  }
}

/** The id or name of a virtual key, sent where its `sk-bf-…` value belongs: a 401 that says so. */
function nameAsCredential(name: string): GatewayError {
  return unauthorized(
    "virtual_key_name_as_credential",
    `'${name.slice(0, 128)}' is the id or name of a virtual key, not its credential: send the key's value (sk-bf-…, shown once when the key was created) as x-bf-vk, Authorization: Bearer or x-api-key`,
  );
}

async function principalFor(c: AppContext, presented: string): Promise<Principal> {
  if (presented.startsWith(EPHEMERAL_PREFIX)) {
    const claims = await verifyToken(presented, requireSecret(c.env.EPHEMERAL_TOKEN_SECRET));
    const parent = await findVirtualKeyById(c.env, claims.vk);
    if (!parent || parent.created_at !== claims.kc) throw unauthorized("virtual_key_not_found", "the virtual key behind this ephemeral token no longer exists");
    if (!parent.is_active) throw blocked(c, parent, `virtual key '${parent.name}' behind this ephemeral token is inactive`);
    const parentExpired = expiredAt(c, parent, `virtual key '${parent.name}' behind this ephemeral token`);
    if (parentExpired) throw parentExpired;
    // Revocations live in the key's Durable Object: asked here, so no route serves a revoked token.
    if (await limiterFor(c.env, parent).tokenRevoked(claims.id, claims.iat)) throw unauthorized("ephemeral_token_revoked", "ephemeral token has been revoked");
    return { vk: parent, token: claims };
  }
  if (presented.length > MAX_KEY_LENGTH || /\s/.test(presented)) throw unauthorized("virtual_key_not_found", "malformed virtual key");
  const record = await findVirtualKey(c.env, await hashKeyValue(presented));
  if (!record) {
    if ((await getRoutingTable(c.env, waitUntilOf(c))).virtualKeyNames.has(presented)) throw nameAsCredential(presented);
    throw unauthorized("virtual_key_not_found", "virtual key not found: it does not exist or has been deleted");
  }
  if (!record.is_active) throw blocked(c, record, `virtual key '${record.name}' is inactive`);
  const expired = expiredAt(c, record, `virtual key '${record.name}'`);
  if (expired) throw expired;
  return { vk: record, token: null };
}

/**
 * The caller (checked against the request's Origin), or null for a keyless request where those are allowed. Every
 * route calls this first, before reading a body: unknown, inactive and revoked credentials never get further.
 */
export async function authenticate(c: AppContext): Promise<Principal | null> {
  const headers = c.req.raw.headers;
  const presented = presentedVirtualKey(headers);
  if (presented === undefined) {
    // A key's id or name in place of its value is a mistake to point out, never a silently ungoverned request.
    const other = otherCredential(headers);
    if (other !== undefined && other.length <= MAX_KEY_LENGTH && (await getRoutingTable(c.env, waitUntilOf(c))).virtualKeyNames.has(other)) throw nameAsCredential(other);
    if (settingsOf(c.env).REQUIRE_VIRTUAL_KEY) {
      throw unauthorized("virtual_key_required", "virtual key is required: send it as x-bf-vk, Authorization: Bearer sk-bf-…, or x-api-key");
    }
  }
  const principal = presented === undefined ? null : await principalFor(c, presented);
  checkOrigin(c, principal);
  return principal;
}

/** Authenticates inference requests before their bodies are read: an unknown caller never costs a parse. */
export const authenticateFirst: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.method === "POST") c.set("principal", await authenticate(c));
  return next();
};
