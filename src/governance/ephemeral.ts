/**
 * Ephemeral tokens: short-lived, scoped credentials a backend mints from its virtual key for a browser. A token is
 * `sk-bf-eph.<claims>.<signature>`: base64url JSON claims signed with HMAC-SHA256 under the Worker secret
 * EPHEMERAL_TOKEN_SECRET, so any location verifies it without a database read. Its scope — models, one origin, an
 * expiry of at most 24 h, a sub-budget and its own request window — is enforced with the parent key's limits in
 * the parent's Durable Object, which also holds revocations.
 */
import { lastResolved } from "../config/last-resolved";
import * as z from "zod/mini";
import { GatewayError } from "../http/errors";
import { parseDuration } from "./duration";
import { dollarLimit } from "./schema";

export const EPHEMERAL_PREFIX = "sk-bf-eph.";
const MAX_LIFETIME_SECONDS = 86_400;

export const tokenClaimsSchema = z.strictObject({
  v: z.literal(1),
  id: z.string().check(z.minLength(1)),
  /** The parent virtual key's id. */
  vk: z.string().check(z.minLength(1)),
  /** When the parent was created: a key deleted and re-created under the same id does not revive its tokens. */
  kc: z.string().check(z.minLength(1)),
  /** Issued at, milliseconds (fine enough for "revoke everything issued so far"). */
  iat: z.int(),
  /** Expiry, seconds. */
  exp: z.int(),
  origin: z.string().check(z.minLength(1)),
  models: z.optional(z.array(z.string())),
  /** Sub-budget over the token's lifetime, USD. */
  budget: z.optional(z.number().check(z.gte(0))),
  /** Own request window: at most `max` requests per `window`. */
  rate: z.optional(z.strictObject({ max: z.int().check(z.gte(1)), window: z.string() })),
});

export type TokenClaims = z.infer<typeof tokenClaimsSchema>;

/** Body of POST /api/governance/virtual-keys/ephemeral-tokens. */
export const mintRequestSchema = z.strictObject({
  allowed_origin: z.string().check(
    z.refine((value) => URL.canParse(value) && new URL(value).origin === value, "must be an origin such as https://app.example.com (scheme, host and port only)"),
  ),
  expires_in_seconds: z._default(z.int().check(z.gte(1), z.lte(MAX_LIFETIME_SECONDS, "tokens live at most 24 hours (86400 s)")), 900),
  models: z.optional(z.array(z.string().check(z.minLength(1))).check(z.minLength(1), z.maxLength(100))),
  budget: z.optional(z.strictObject({ max_limit: dollarLimit })),
  rate_limit: z.optional(
    z.strictObject({
      request_max_limit: z.int().check(z.gte(1)),
      request_reset_duration: z.string().check(z.refine((value) => parseDuration(value) !== undefined, "must be a duration such as 30s, 5m or 1h, at most 1000Y")),
    }),
  ),
});

export type MintRequest = z.infer<typeof mintRequestSchema>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const signingKey = lastResolved((secret) => crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]));

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

export function requireSecret(secret: string | undefined): string {
  if (!secret || secret.length < 32) {
    throw new GatewayError(503, "ephemeral tokens are disabled: set the EPHEMERAL_TOKEN_SECRET secret (at least 32 characters)", "ephemeral_tokens_disabled");
  }
  return secret;
}

/** Bytes of MAC in a token id: enough that no key can guess another's ids. */
const ID_TAG_BYTES = 12;
const LEGACY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function idTag(parentId: string, random: string, secret: string): Promise<string> {
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await signingKey(secret), encoder.encode(`token-id\u0000${parentId}\u0000${random}`)));
  return base64url(mac.slice(0, ID_TAG_BYTES));
}

/**
 * A token id that says which key minted it: a random part and a MAC of it with the parent key's id. Tokens are not
 * stored anywhere, so this is how a revocation can tell an id of the key's own tokens from one it never minted
 * (another key's, or a typo) and refuse it, instead of reporting a token revoked that keeps working.
 */
export async function mintTokenId(parentId: string, secret: string): Promise<string> {
  const random = base64url(crypto.getRandomValues(new Uint8Array(16)));
  return `${random}.${await idTag(parentId, random, secret)}`;
}

/** Whether `id` is one `parentId` minted (or a UUID, the ids of tokens minted before ids carried their key). */
export async function isTokenIdOf(id: string, parentId: string, secret: string): Promise<boolean> {
  if (LEGACY_ID.test(id)) return true;
  const [random, tag, ...rest] = id.split(".");
  if (random === undefined || tag === undefined || rest.length > 0 || random === "") return false;
  return tag === (await idTag(parentId, random, secret));
}

export async function signToken(claims: TokenClaims, secret: string): Promise<string> {
  const payload = base64url(encoder.encode(JSON.stringify(claims)));
  const signature = new Uint8Array(await crypto.subtle.sign("HMAC", await signingKey(secret), encoder.encode(payload)));
  return `${EPHEMERAL_PREFIX}${payload}.${base64url(signature)}`;
}

function invalid(message: string): GatewayError {
  return new GatewayError(401, message, "ephemeral_token_invalid", { type: "ephemeral_token_invalid" });
}

/** The token's claims, when its signature holds and it has not expired. */
export async function verifyToken(token: string, secret: string, now = Date.now()): Promise<TokenClaims> {
  const [payload, signature, extra] = token.slice(EPHEMERAL_PREFIX.length).split(".");
  if (!payload || !signature || extra !== undefined) throw invalid("malformed ephemeral token");
  let valid = false;
  let claims: unknown;
  try {
    valid = await crypto.subtle.verify("HMAC", await signingKey(secret), fromBase64url(signature), encoder.encode(payload));
    claims = JSON.parse(decoder.decode(fromBase64url(payload)));
  } catch {
    throw invalid("malformed ephemeral token");
  }
  if (!valid) throw invalid("ephemeral token signature does not verify");
  const parsed = tokenClaimsSchema.safeParse(claims);
  if (!parsed.success) throw invalid("malformed ephemeral token");
  if (parsed.data.exp * 1000 <= now) {
    throw new GatewayError(401, `ephemeral token expired at ${new Date(parsed.data.exp * 1000).toISOString()}`, "ephemeral_token_expired", { type: "ephemeral_token_expired" });
  }
  return parsed.data;
}

export function claimsFor(parent: { id: string; created_at: string }, request: MintRequest, id: string, now = Date.now()): TokenClaims {
  return {
    v: 1,
    id,
    vk: parent.id,
    kc: parent.created_at,
    iat: now,
    exp: Math.floor(now / 1000) + request.expires_in_seconds,
    origin: request.allowed_origin,
    ...(request.models ? { models: request.models } : {}),
    ...(request.budget ? { budget: request.budget.max_limit } : {}),
    ...(request.rate_limit ? { rate: { max: request.rate_limit.request_max_limit, window: request.rate_limit.request_reset_duration } } : {}),
  };
}

/**
 * Whether a token's model list allows a requested model, as the client named it or with/without the provider that
 * serves it (so "vllm/meta-llama/Llama-3.2-1B-Instruct" and "meta-llama/Llama-3.2-1B-Instruct" match each other).
 */
export function tokenAllowsModel(claims: TokenClaims, model: string, provider: string | undefined): boolean {
  if (!claims.models) return true;
  const prefix = provider === undefined ? undefined : `${provider}/`;
  const bare = prefix !== undefined && model.startsWith(prefix) ? model.slice(prefix.length) : model;
  return claims.models.includes(model) || claims.models.includes(bare) || (prefix !== undefined && claims.models.includes(prefix + bare));
}
