/** Teams and customers in D1, the system of record; every location learns them through the routing table's snapshot. */
import type { Env } from "../env";
import type { GroupKind, GroupRecord } from "./groups";
import { substringPattern } from "./key-store";

export async function loadGroup(env: Env, kind: GroupKind, id: string): Promise<GroupRecord | null> {
  const row = await env.DB.prepare("SELECT config FROM governance_groups WHERE kind = ?1 AND id = ?2").bind(kind, id).first<string>("config");
  return row ? (JSON.parse(row) as GroupRecord) : null;
}

export async function loadAllGroups(env: Env): Promise<GroupRecord[]> {
  const rows = await env.DB.prepare("SELECT config FROM governance_groups ORDER BY kind, created_at, id").all<{ config: string }>();
  return rows.results.map((row) => JSON.parse(row.config) as GroupRecord);
}

export async function saveGroup(env: Env, record: GroupRecord): Promise<void> {
  const now = Date.now();
  await env.DB.prepare(
    "INSERT INTO governance_groups (kind, id, name, config, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5) " +
      "ON CONFLICT(kind, id) DO UPDATE SET name = excluded.name, config = excluded.config, updated_at = excluded.updated_at",
  )
    .bind(record.kind, record.id, record.name, JSON.stringify(record), now)
    .run();
}

export async function deleteGroup(env: Env, kind: GroupKind, id: string): Promise<void> {
  await env.DB.prepare("DELETE FROM governance_groups WHERE kind = ?1 AND id = ?2").bind(kind, id).run();
}

export interface GroupPage {
  records: GroupRecord[];
  total: number;
}

export async function listGroups(env: Env, kind: GroupKind, options: { limit: number; offset: number; search?: string | undefined; customerId?: string | undefined }): Promise<GroupPage> {
  const pattern = substringPattern(options.search);
  const where = "kind = ?1 AND name LIKE ?2 ESCAPE '\\' AND (?3 IS NULL OR json_extract(config, '$.customer_id') = ?3)";
  const customer = options.customerId ?? null;
  const [rows, count] = await env.DB.batch<{ config: string } | { total: number }>([
    env.DB.prepare(`SELECT config FROM governance_groups WHERE ${where} ORDER BY created_at, id LIMIT ?4 OFFSET ?5`).bind(kind, pattern, customer, options.limit, options.offset),
    env.DB.prepare(`SELECT COUNT(*) AS total FROM governance_groups WHERE ${where}`).bind(kind, pattern, customer),
  ]);
  return {
    records: ((rows?.results ?? []) as { config: string }[]).map((row) => JSON.parse(row.config) as GroupRecord),
    total: ((count?.results ?? [])[0] as { total: number } | undefined)?.total ?? 0,
  };
}

/** Names of the virtual keys and teams that belong to a group (a group with members is not deleted from under them). */
export async function membersOf(env: Env, kind: GroupKind, id: string): Promise<string[]> {
  const field = kind === "team" ? "$.team_id" : "$.customer_id";
  const [keys, teams] = await env.DB.batch<{ name: string }>([
    env.DB.prepare("SELECT name FROM virtual_keys WHERE json_extract(config, ?1) = ?2 ORDER BY name LIMIT 20").bind(field, id),
    env.DB.prepare("SELECT name FROM governance_groups WHERE kind = 'team' AND json_extract(config, '$.customer_id') = ?1 ORDER BY name LIMIT 20").bind(kind === "customer" ? id : null),
  ]);
  return [...(keys?.results ?? []).map((row) => `virtual key '${row.name}'`), ...(teams?.results ?? []).map((row) => `team '${row.name}'`)];
}
