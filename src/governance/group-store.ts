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

/** How many members a group has, and the first names in the order the key and team lists show them. */
export interface MemberSample {
  count: number;
  names: string[];
}

const NO_MEMBERS: MemberSample = { count: 0, names: [] };

/** The first `first` names and the count of each owner's rows, for a query answering (owner, name, total) rows. */
function samplesOf(rows: readonly { owner: string; name: string; total: number }[]): Map<string, MemberSample> {
  const samples = new Map<string, MemberSample>();
  for (const row of rows) {
    const sample = samples.get(row.owner) ?? { count: row.total, names: [] };
    sample.names.push(row.name);
    samples.set(row.owner, sample);
  }
  return samples;
}

/** Rows of `table` whose `field` names one of ?2's owners, numbered per owner in list order, the first ?3 of each. */
function firstMembersSql(table: string, extraCondition: string): string {
  const owner = "json_extract(config, ?1)";
  return (
    `SELECT owner, name, total FROM (SELECT ${owner} AS owner, name, ROW_NUMBER() OVER (PARTITION BY ${owner} ORDER BY created_at, id) AS n, ` +
    `COUNT(*) OVER (PARTITION BY ${owner}) AS total FROM ${table} WHERE ${extraCondition}${owner} IN (SELECT value FROM json_each(?2))) ` +
    "WHERE n <= ?3 ORDER BY owner, n"
  );
}

/**
 * For a page of groups, in one D1 batch: each one's virtual keys (a customer's own, not its teams') and, for customers,
 * teams — counted, with the first `first` names.
 */
export async function memberSamples(env: Env, kind: GroupKind, ids: readonly string[], first: number): Promise<{ keys: (id: string) => MemberSample; teams: (id: string) => MemberSample }> {
  type Row = { owner: string; name: string; total: number };
  const owners = JSON.stringify(ids);
  const field = kind === "team" ? "$.team_id" : "$.customer_id";
  const [keys, teams] = await env.DB.batch<Row>([
    env.DB.prepare(firstMembersSql("virtual_keys", "")).bind(field, owners, first),
    env.DB.prepare(firstMembersSql("governance_groups", "kind = 'team' AND ")).bind("$.customer_id", kind === "customer" ? owners : "[]", first),
  ]);
  const keySamples = samplesOf(keys?.results ?? []);
  const teamSamples = samplesOf(teams?.results ?? []);
  return { keys: (id) => keySamples.get(id) ?? NO_MEMBERS, teams: (id) => teamSamples.get(id) ?? NO_MEMBERS };
}

/** Names of the virtual keys and teams that belong to a group (a group with members is not deleted from under them). */
export async function membersOf(env: Env, kind: GroupKind, id: string): Promise<string[]> {
  const samples = await memberSamples(env, kind, [id], 20);
  return [...samples.keys(id).names.map((name) => `virtual key '${name}'`), ...samples.teams(id).names.map((name) => `team '${name}'`)];
}
