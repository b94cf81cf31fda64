/**
 * Provider configuration: D1 is the system of record, KV carries a published snapshot to every location, and each
 * isolate serves a compiled copy from memory. Steady-state requests touch neither D1 nor KV: a stale copy is served
 * while a background refresh revalidates it.
 */
import type { Env } from "../env";
import { settingsOf } from "../settings";
import { applyProbeReports } from "../routing/health";
import { PROBE_KV_KEY, probeReportTtlMs, type ProbeReports } from "../routing/probe";
import { compileRoutingTable, type RoutingTable } from "../routing/table";
import type { PricingOverride } from "../governance/schema";
import { loadAllGroups } from "../governance/group-store";
import { summaryOf, type GroupSummary } from "../governance/groups";
import type { ProviderKey, ProviderRecord, ProviderSettings } from "./schema";
import { openRecord, sealRecord } from "./secret-box";

const SNAPSHOT_KEY = "config/providers-snapshot";

interface Snapshot {
  version: string;
  providers: ProviderRecord[];
  pricing: PricingOverride[];
  /** Virtual key ids and names (never values), to explain a key's name sent as its credential. */
  virtualKeyNames?: string[];
  /** Teams and customers: what a request needs to find the limiters it counts against. */
  groups?: GroupSummary[];
}

interface CachedTable {
  table: RoutingTable;
  checkedAt: number;
}

let cached: CachedTable | null = null;
/**
 * When this isolate's background refresh started (0: none running). Only this fact is shared between requests,
 * never the refresh's promise: the platform may cancel a request's I/O when that request ends, and a request must
 * not hang on another's. A refresh older than REFRESH_GIVE_UP_MS was cancelled with its request and is forgotten.
 */
let refreshStartedAt = 0;
const REFRESH_GIVE_UP_MS = 30_000;

/** The routing table for this request: from memory, revalidated in the background once older than the cache TTL. */
export async function getRoutingTable(env: Env, waitUntil: (promise: Promise<unknown>) => void): Promise<RoutingTable> {
  const now = Date.now();
  if (!cached) {
    // A cold isolate: every request that finds no table loads one itself (concurrent ones each read KV once).
    return refreshFromKv(env);
  }
  const ttlMs = settingsOf(env).CONFIG_CACHE_SECONDS * 1000;
  if (now - cached.checkedAt >= ttlMs && now - refreshStartedAt >= REFRESH_GIVE_UP_MS) {
    refreshStartedAt = now;
    waitUntil(
      refreshFromKv(env)
        .catch((error: unknown) => console.error("refreshing the routing table failed:", error))
        .finally(() => (refreshStartedAt = 0)),
    );
  }
  return cached.table;
}

async function refreshFromKv(env: Env): Promise<RoutingTable> {
  if (settingsOf(env).HEALTH_PROBE) {
    const reports = await env.CONFIG_KV.get<ProbeReports>(PROBE_KV_KEY, "json");
    if (reports) applyProbeReports(reports, probeReportTtlMs(env));
  }
  const snapshot = await env.CONFIG_KV.get<Snapshot>(SNAPSHOT_KEY, "json");
  if (!snapshot) return (await publishSnapshot(env)).table;
  return remember(env, snapshot);
}

/** Compiles a snapshot (secrets opened in memory only) unless this isolate already holds that version. */
async function remember(env: Env, snapshot: Snapshot): Promise<RoutingTable> {
  if (cached && cached.table.version === snapshot.version) {
    cached = { table: cached.table, checkedAt: Date.now() };
    return cached.table;
  }
  const providers = await Promise.all(snapshot.providers.map((record) => openRecord(record, env.CONFIG_ENCRYPTION_KEY)));
  const table = compileRoutingTable(snapshot.version, providers, snapshot.pricing ?? [], snapshot.virtualKeyNames ?? [], snapshot.groups ?? []);
  cached = { table, checkedAt: Date.now() };
  return table;
}

/** Rebuilds the snapshot from D1, publishes it to KV and to this isolate. Called after every admin write. */
export async function publishSnapshot(env: Env): Promise<{ table: RoutingTable }> {
  await ensureDefaults(env);
  // The snapshot carries secrets as stored (sealed when CONFIG_ENCRYPTION_KEY is set).
  const [providers, pricing, keyNames, groups] = await Promise.all([
    loadStoredProviders(env),
    loadPricing(env),
    env.DB.prepare("SELECT id, name FROM virtual_keys").all<{ id: string; name: string }>(),
    loadAllGroups(env),
  ]);
  const virtualKeyNames = [...new Set(keyNames.results.flatMap((row) => [row.id, row.name]))];
  const snapshot: Snapshot = { version: `${Date.now()}-${crypto.randomUUID()}`, providers, pricing, virtualKeyNames, groups: groups.map(summaryOf) };
  await env.CONFIG_KV.put(SNAPSHOT_KEY, JSON.stringify(snapshot));
  return { table: await remember(env, snapshot) };
}

interface ProviderRow {
  name: string;
  config: string;
}
interface KeyRow {
  id: string;
  provider: string;
  name: string;
  config: string;
}

/** Providers with their secrets opened, for the admin API. */
export async function loadProviders(env: Env, only?: string): Promise<ProviderRecord[]> {
  const stored = await loadStoredProviders(env, only);
  return Promise.all(stored.map((record) => openRecord(record, env.CONFIG_ENCRYPTION_KEY)));
}

async function loadStoredProviders(env: Env, only?: string): Promise<ProviderRecord[]> {
  const filter = only === undefined ? "" : " WHERE name = ?1";
  const keyFilter = only === undefined ? "" : " WHERE provider = ?1";
  const bind = only === undefined ? [] : [only];
  const [providers, keys] = await env.DB.batch<ProviderRow | KeyRow>([
    env.DB.prepare(`SELECT name, config FROM providers${filter} ORDER BY name`).bind(...bind),
    env.DB.prepare(`SELECT id, provider, name, config FROM provider_keys${keyFilter} ORDER BY provider, position`).bind(...bind),
  ]);
  const byProvider = new Map<string, ProviderKey[]>();
  for (const row of (keys?.results ?? []) as KeyRow[]) {
    const list = byProvider.get(row.provider) ?? [];
    list.push({ ...(JSON.parse(row.config) as ProviderKey), id: row.id, name: row.name });
    byProvider.set(row.provider, list);
  }
  return ((providers?.results ?? []) as ProviderRow[]).map((row) => ({
    name: row.name,
    settings: JSON.parse(row.config) as Omit<ProviderSettings, "keys">,
    keys: byProvider.get(row.name) ?? [],
  }));
}

export async function loadPricing(env: Env): Promise<PricingOverride[]> {
  const { results } = await env.DB.prepare("SELECT config FROM pricing_overrides ORDER BY created_at, id").all<{ config: string }>();
  return results.map((row) => JSON.parse(row.config) as PricingOverride);
}

export async function loadProvider(env: Env, name: string): Promise<ProviderRecord | null> {
  const [record] = await loadProviders(env, name);
  return record ?? null;
}

function keyStatements(env: Env, provider: string, keys: readonly ProviderKey[], now: number, verb = "INSERT"): D1PreparedStatement[] {
  return keys.map((key, position) => {
    const { id, name, ...rest } = key;
    return env.DB.prepare(
      `${verb} INTO provider_keys (id, provider, name, position, config, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)`,
    ).bind(id, provider, name, position, JSON.stringify(rest), now);
  });
}

/** Writes a provider and replaces its keys in one D1 transaction. */
export async function saveProvider(env: Env, plain: ProviderRecord): Promise<void> {
  const record = await sealRecord(plain, env.CONFIG_ENCRYPTION_KEY);
  const now = Date.now();
  await env.DB.batch([
    env.DB.prepare(
      "INSERT INTO providers (name, config, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) " +
        "ON CONFLICT(name) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at",
    ).bind(record.name, JSON.stringify(record.settings), now),
    env.DB.prepare("DELETE FROM provider_keys WHERE provider = ?1").bind(record.name),
    ...keyStatements(env, record.name, record.keys, now),
  ]);
}

export async function deleteProvider(env: Env, name: string): Promise<boolean> {
  const [, removed] = await env.DB.batch([
    env.DB.prepare("DELETE FROM provider_keys WHERE provider = ?1").bind(name),
    env.DB.prepare("DELETE FROM providers WHERE name = ?1").bind(name),
  ]);
  return (removed?.meta.changes ?? 0) > 0;
}

/**
 * On first start with an empty database, installs a `vllm` provider pointing at DEFAULT_VLLM_URL, so the local
 * quick start reaches a vLLM server on localhost:8000 with no configuration. Runs once per database; each isolate
 * checks once, before its first snapshot or admin read.
 */
let defaultsChecked = false;

export async function ensureDefaults(env: Env): Promise<void> {
  if (defaultsChecked) return;
  await installDefaultsOnce(env);
  defaultsChecked = true;
}

async function installDefaultsOnce(env: Env): Promise<void> {
  const done = await env.DB.prepare("SELECT value FROM settings WHERE key = 'defaults_installed'").first<string>("value");
  if (done) return;
  const url = env.DEFAULT_VLLM_URL?.trim();
  const now = Date.now();
  const statements: D1PreparedStatement[] = [
    env.DB.prepare("INSERT OR IGNORE INTO settings (key, value) VALUES ('defaults_installed', ?1)").bind(String(now)),
  ];
  const existing = await env.DB.prepare("SELECT COUNT(*) AS n FROM providers").first<number>("n");
  if (url && !existing) {
    statements.push(
      env.DB.prepare("INSERT OR IGNORE INTO providers (name, config, created_at, updated_at) VALUES ('vllm', '{}', ?1, ?1)").bind(now),
      ...keyStatements(env, "vllm", [{ id: "vllm-local", name: "vllm-local", value: "", weight: 1, enabled: true, vllm_key_config: { url } }], now, "INSERT OR IGNORE"),
    );
  }
  await env.DB.batch(statements);
}

/** Test hook: forget this isolate's copy so the next request reloads from KV. */
export function forgetCachedConfig(): void {
  cached = null;
}
