/**
 * The Responses API's state, kept by the gateway (vLLM's own store is in memory per replica, so a conversation
 * would break whenever the router picked another replica): each stored response with the full list of input items
 * it answered, in D1. A response is visible only to the virtual key that created it, or to keyless requests when a
 * keyless request created it.
 */
import type { Env } from "../env";
import type { JsonObject } from "../http/body";
import type { Principal } from "../pipeline/authenticate";

/** D1 keeps values up to 2 MB: a larger conversation is answered but not stored. */
const MAX_STORED_CHARS = 1_800_000;
const DAY_MS = 86_400_000;

export interface StoredResponse {
  id: string;
  createdAt: number;
  inputItems: JsonObject[];
  response: JsonObject;
}

/** Whose responses a caller sees. */
export function ownerOf(principal: Principal | null): string {
  return principal ? `vk:${principal.vk.id}` : "keyless";
}

/** Keeps a response; false when it is too large to keep. `responseJson` is the Response object as sent. */
export async function saveResponse(env: Env, owner: string, id: string, inputItems: readonly JsonObject[], responseJson: string, retentionDays: number): Promise<boolean> {
  const items = JSON.stringify(inputItems);
  if (items.length + responseJson.length > MAX_STORED_CHARS) {
    console.log(JSON.stringify({ event: "response_not_stored", id, chars: items.length + responseJson.length }));
    return false;
  }
  const now = Date.now();
  await env.DB.prepare("INSERT OR REPLACE INTO stored_responses (id, owner, created_at, expires_at, input_items, response) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
    .bind(id, owner, now, now + retentionDays * DAY_MS, items, responseJson)
    .run();
  return true;
}

interface Row {
  id: string;
  created_at: number;
  input_items: string;
  response: string;
}

export async function loadResponse(env: Env, owner: string, id: string): Promise<StoredResponse | null> {
  const row = await env.DB.prepare("SELECT id, created_at, input_items, response FROM stored_responses WHERE id = ?1 AND owner = ?2 AND expires_at > ?3")
    .bind(id, owner, Date.now())
    .first<Row>();
  if (!row) return null;
  return { id: row.id, createdAt: row.created_at, inputItems: JSON.parse(row.input_items) as JsonObject[], response: JSON.parse(row.response) as JsonObject };
}

export async function deleteResponse(env: Env, owner: string, id: string): Promise<boolean> {
  const result = await env.DB.prepare("DELETE FROM stored_responses WHERE id = ?1 AND owner = ?2").bind(id, owner).run();
  return (result.meta.changes ?? 0) > 0;
}

/** Deletes responses past their retention; run by the scheduled clean-up. */
export async function removeExpiredResponses(env: Env, now = Date.now()): Promise<number> {
  const result = await env.DB.prepare("DELETE FROM stored_responses WHERE expires_at <= ?1").bind(now).run();
  return result.meta.changes ?? 0;
}

/** A response's output items as input items of the next turn (the API accepts output items as input). */
export function outputAsInput(response: JsonObject): JsonObject[] {
  const output = response.output;
  return Array.isArray(output) ? output.filter((item): item is JsonObject => typeof item === "object" && item !== null && !Array.isArray(item)) : [];
}
