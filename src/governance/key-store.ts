/**
 * Virtual keys: D1 is the system of record; KV holds each record under its value's hash for lookups from every
 * location; isolate memory answers repeat lookups. Limits never depend on this copy being fresh — the key's
 * Durable Object holds the authoritative limits and active flag.
 */
import type { Env } from "../env";
import type { VirtualKeyRecord } from "./schema";
import { settingsOf } from "../settings";

const KV_PREFIX = "vk/";
/** The same record under its id, for ephemeral tokens, which name their parent key by id. */
const KV_ID_PREFIX = "vk-id/";
const NEGATIVE_TTL_MS = 5_000;

interface Cached {
  record: VirtualKeyRecord | null;
  checkedAt: number;
}

const byHash = new Map<string, Cached>();
const byId = new Map<string, Cached>();
const MAX_CACHED = 10_000;

const encoder = new TextEncoder();

/** Recently presented key values → their hashes, so a busy key is not re-hashed on every request. */
const hashOfValue = new Map<string, string>();

export async function hashKeyValue(value: string): Promise<string> {
  const known = hashOfValue.get(value);
  if (known !== undefined) return known;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(value)));
  let hex = "";
  for (const byte of digest) hex += byte.toString(16).padStart(2, "0");
  if (hashOfValue.size >= MAX_CACHED) hashOfValue.delete(hashOfValue.keys().next().value as string);
  hashOfValue.set(value, hex);
  return hex;
}

function remember(cache: Map<string, Cached>, key: string, record: VirtualKeyRecord | null): void {
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
  cache.set(key, { record, checkedAt: Date.now() });
}

/**
 * D1 is asked only when KV has no entry — a key created moments ago in another location, or a lost KV entry — and at
 * most this often per isolate, so a flood of made-up keys cannot turn into a flood of D1 queries.
 */
const D1_FALLBACK_INTERVAL_MS = 100;
let lastD1Fallback = 0;

/**
 * One lookup path for both indexes: isolate memory (negative answers for a few seconds, so unknown keys cannot
 * hammer storage), then KV, then D1 — which also repairs a missing KV entry.
 */
async function lookUp(env: Env, cache: Map<string, Cached>, kvKey: string, key: string, load: () => Promise<VirtualKeyRecord | null>): Promise<VirtualKeyRecord | null> {
  const cached = cache.get(key);
  const ttlMs = cached?.record ? settingsOf(env).CONFIG_CACHE_SECONDS * 1000 : NEGATIVE_TTL_MS;
  if (cached && Date.now() - cached.checkedAt < ttlMs) return cached.record;
  let record = await env.CONFIG_KV.get<VirtualKeyRecord>(kvKey, "json");
  if (!record && Date.now() - lastD1Fallback >= D1_FALLBACK_INTERVAL_MS) {
    lastD1Fallback = Date.now();
    record = await load();
    if (record) await env.CONFIG_KV.put(kvKey, JSON.stringify(record));
  }
  remember(cache, key, record);
  return record;
}

/** The record for a key value's hash. */
export function findVirtualKey(env: Env, hash: string): Promise<VirtualKeyRecord | null> {
  return lookUp(env, byHash, KV_PREFIX + hash, hash, async () => {
    const row = await env.DB.prepare("SELECT config FROM virtual_keys WHERE value_hash = ?1").bind(hash).first<string>("config");
    return row ? (JSON.parse(row) as VirtualKeyRecord) : null;
  });
}

/** The record with this id (an ephemeral token's parent). */
export function findVirtualKeyById(env: Env, id: string): Promise<VirtualKeyRecord | null> {
  return lookUp(env, byId, KV_ID_PREFIX + id, id, () => loadVirtualKey(env, id));
}

export async function saveVirtualKey(env: Env, record: VirtualKeyRecord, previousHash?: string): Promise<void> {
  const now = Date.now();
  await env.DB.prepare(
    "INSERT INTO virtual_keys (id, name, value_hash, config, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5) " +
      "ON CONFLICT(id) DO UPDATE SET name = excluded.name, value_hash = excluded.value_hash, config = excluded.config, updated_at = excluded.updated_at",
  )
    .bind(record.id, record.name, record.value_hash, JSON.stringify(record), now)
    .run();
  if (previousHash && previousHash !== record.value_hash) {
    await env.CONFIG_KV.delete(KV_PREFIX + previousHash);
    byHash.delete(previousHash);
  }
  await Promise.all([env.CONFIG_KV.put(KV_PREFIX + record.value_hash, JSON.stringify(record)), env.CONFIG_KV.put(KV_ID_PREFIX + record.id, JSON.stringify(record))]);
  remember(byHash, record.value_hash, record);
  remember(byId, record.id, record);
}

export async function deleteVirtualKey(env: Env, record: VirtualKeyRecord): Promise<void> {
  await env.DB.prepare("DELETE FROM virtual_keys WHERE id = ?1").bind(record.id).run();
  await Promise.all([env.CONFIG_KV.delete(KV_PREFIX + record.value_hash), env.CONFIG_KV.delete(KV_ID_PREFIX + record.id)]);
  remember(byHash, record.value_hash, null);
  remember(byId, record.id, null);
}

export async function loadVirtualKey(env: Env, id: string): Promise<VirtualKeyRecord | null> {
  const row = await env.DB.prepare("SELECT config FROM virtual_keys WHERE id = ?1").bind(id).first<string>("config");
  return row ? (JSON.parse(row) as VirtualKeyRecord) : null;
}

export interface VirtualKeyPage {
  records: VirtualKeyRecord[];
  total: number;
}

/** A LIKE pattern (with ESCAPE '\\') matching names that contain `search`: its own wildcards are matched literally. */
export function substringPattern(search: string | undefined): string {
  return `%${(search ?? "").replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}

/** A listing limit meaning "every key" (SQLite's LIMIT -1). */
export const EVERY_KEY = -1;

export interface VirtualKeyListing {
  limit: number;
  offset: number;
  search?: string | undefined;
  teamId?: string | undefined;
  customerId?: string | undefined;
  /** A column of virtual_keys (the caller's enum: never client text in the SQL) and its direction; id breaks ties. */
  sortBy?: "created_at" | "updated_at" | "name";
  order?: "asc" | "desc";
}

export async function listVirtualKeys(env: Env, options: VirtualKeyListing): Promise<VirtualKeyPage> {
  const pattern = substringPattern(options.search);
  const where = "name LIKE ?1 ESCAPE '\\' AND (?2 IS NULL OR json_extract(config, '$.team_id') = ?2) AND (?3 IS NULL OR json_extract(config, '$.customer_id') = ?3)";
  const filters = [pattern, options.teamId ?? null, options.customerId ?? null];
  const [rows, count] = await env.DB.batch<{ config: string } | { total: number }>([
    env.DB.prepare(`SELECT config FROM virtual_keys WHERE ${where} ORDER BY ${options.sortBy ?? "created_at"} ${options.order ?? "asc"}, id LIMIT ?4 OFFSET ?5`).bind(...filters, options.limit, options.offset),
    env.DB.prepare(`SELECT COUNT(*) AS total FROM virtual_keys WHERE ${where}`).bind(...filters),
  ]);
  return {
    records: ((rows?.results ?? []) as { config: string }[]).map((row) => JSON.parse(row.config) as VirtualKeyRecord),
    total: ((count?.results ?? [])[0] as { total: number } | undefined)?.total ?? 0,
  };
}
