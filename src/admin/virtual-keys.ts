/**
 * /api/governance/virtual-keys — Bifrost's virtual-key API. The key value is shown once, when the key is created;
 * only its hash is stored. Every write also installs the key's limits in its Durable Object, so a change (a
 * deactivation above all) applies to the very next request everywhere.
 */
import { queryOf } from "../http/query";
import { routeGroup, type App } from "../http/apps";
import * as z from "zod/mini";
import { wholeNumber } from "./query-time";
import type { Context } from "hono";
import { parseOrThrow } from "../config/validation";
import { getRoutingTable, publishSnapshot } from "../config/store";
import type { RoutingTable } from "../routing/table";
import type { AppEnv } from "../env";
import { readJsonObject } from "../http/body";
import { waitUntilOf } from "../http/context";
import { GatewayError, badRequest, jsonResponse } from "../http/errors";
import { limiterFor } from "../governance/admission";
import { VIRTUAL_KEY_PREFIX } from "../governance/credentials";
import { EVERY_KEY, deleteVirtualKey, hashKeyValue, listVirtualKeys, loadVirtualKey, saveVirtualKey } from "../governance/key-store";
import { limiterConfigOf } from "../governance/limits";
import { unpricedModelWarnings } from "./price-warnings";
import { buildVirtualKeyRecord, shownValue } from "../governance/records";
import { virtualKeyBodySchema, type VirtualKeyBody, type VirtualKeyRecord } from "../governance/schema";
import { checkGroupsExist } from "./groups";
import { groupUsageOfKey } from "../governance/group-usage";
import { presentAlerts, sealAlertSecrets } from "../alerts/config";

const BODY_LIMIT = 1024 * 1024;
const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

type AdminContext = Context<AppEnv>;

export function presentVirtualKey(record: VirtualKeyRecord): Record<string, unknown> {
  const { value_hash: _hash, value_prefix: shown, ...rest } = record;
  return { ...rest, alerts: presentAlerts(record.alerts), expires_at: record.expires_at ?? null, value: shown.includes("…") ? shown : `${shown}…` };
}

async function newKeyValue(): Promise<{ value: string; valueHash: string; valuePrefix: string }> {
  const value = `${VIRTUAL_KEY_PREFIX}${crypto.randomUUID()}`;
  return { value, valueHash: await hashKeyValue(value), valuePrefix: shownValue(value) };
}

/** Providers a key names that are not configured, and models its budget cannot price: allowed, but said out loud. */
async function warningsFor(c: AdminContext, record: VirtualKeyRecord): Promise<string[]> {
  const table = await getRoutingTable(c.env, waitUntilOf(c));
  const missing = record.provider_configs
    .filter((config) => !table.providers.has(config.provider))
    .map((config) => `provider '${config.provider}' is not configured yet: requests for it will fail until it is`);
  return [...missing, ...unknownKeyWarnings(table, record), ...unpricedModelWarnings(table, record)];
}

/** key_ids that name no key of their (configured) provider, by id or name: likely a typo that leaves the config fewer keys. */
function unknownKeyWarnings(table: RoutingTable, record: VirtualKeyRecord): string[] {
  return record.provider_configs.flatMap((config) => {
    const keys = table.providers.get(config.provider)?.keys;
    if (!keys || !config.key_ids) return [];
    const unknown = config.key_ids.filter((named) => named !== "*" && !keys.some((key) => key.id === named || key.name === named));
    return unknown.length === 0 ? [] : [`key_ids of provider '${config.provider}' name ${unknown.map((named) => `'${named}'`).join(", ")}, which no key of that provider is: requests through it can use only the keys that exist`];
  });
}

/** Saves a key's record (its alert secrets sealed), configures its limiter, and answers the record as stored. */
async function store(c: AdminContext, built: VirtualKeyRecord, previous: VirtualKeyRecord | null): Promise<VirtualKeyRecord> {
  await checkGroupsExist(c.env, built);
  const record: VirtualKeyRecord = { ...built, alerts: await sealAlertSecrets(built.alerts, c.env.CONFIG_ENCRYPTION_KEY) };
  try {
    await saveVirtualKey(c.env, record, previous?.value_hash);
  } catch (error) {
    if (error instanceof Error && /UNIQUE constraint failed: virtual_keys\.name/.test(error.message)) {
      throw new GatewayError(409, `a virtual key named '${record.name}' already exists`, "virtual_key_exists");
    }
    throw error;
  }
  await limiterFor(c.env, record).configure(limiterConfigOf(record));
  // Every location learns the key's id and name (to explain them when sent as credentials).
  await publishSnapshot(c.env);
  return record;
}

async function existing(c: AdminContext, id: string): Promise<VirtualKeyRecord> {
  const record = await loadVirtualKey(c.env, id);
  if (!record) throw new GatewayError(404, `virtual key '${id}' not found`, "virtual_key_not_found");
  return record;
}

/** Bifrost's page size: 25 by default, and out-of-range sizes brought back into 1–100 rather than refused. */
const pageSize = z.pipe(z.coerce.number().check(z.int()), z.transform((size: number) => (size <= 0 ? 25 : Math.min(size, 100))));

const listQuery = z.object({
  limit: z._default(pageSize, 25),
  offset: z._default(wholeNumber(0, 1_000_000_000), 0),
  search: z.optional(z.string().check(z.maxLength(128))),
  /** Only the keys of this team, or of this customer (directly: not through the customer's teams). */
  team_id: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
  customer_id: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
  sort_by: z._default(z.enum(["created_at", "updated_at", "name"]), "created_at"),
  order: z._default(z.enum(["asc", "desc"]), "asc"),
});

export const virtualKeyRoutes = routeGroup();

/** A list query with none of these asks for no page: every key, as Bifrost answers it. */
const PAGE_PARAMETERS = ["limit", "offset", "search", "team_id", "customer_id"];

virtualKeyRoutes.get("/", async (c) => {
  const query = queryOf(c);
  const { limit, offset, search, team_id: teamId, customer_id: customerId, sort_by: sortBy, order } = parseOrThrow(listQuery, query, "virtual key list query");
  const paged = PAGE_PARAMETERS.some((name) => query[name] !== undefined);
  const page = await listVirtualKeys(c.env, { limit: paged ? limit : EVERY_KEY, offset, search, teamId, customerId, sortBy, order });
  return jsonResponse({ virtual_keys: page.records.map(presentVirtualKey), count: page.records.length, total_count: page.total, limit: paged ? limit : page.records.length, offset });
});

/**
 * A body's `id` and `value` may only repeat the key's own (as a key read and sent back does): the gateway chooses a
 * key's value, and PUT's path names its id.
 */
function checkOwnFields(body: VirtualKeyBody, previous: VirtualKeyRecord | null, id: string | null): void {
  if (body.id !== undefined && body.id !== id) {
    throw badRequest(id === null ? "id is chosen by the gateway; PUT /api/governance/virtual-keys/{id} creates a key under an id of yours" : `body names id '${body.id.slice(0, 128)}' but the path names '${id}'`, "invalid_request", "id");
  }
  if (body.value !== undefined && (previous === null || body.value !== presentVirtualKey(previous).value)) {
    throw badRequest("a key's value is chosen by the gateway and cannot be set; create a new key to get a new value", "invalid_request", "value");
  }
}

virtualKeyRoutes.post("/", async (c) => {
  const body = parseOrThrow(virtualKeyBodySchema, await readJsonObject(c.req.raw, BODY_LIMIT), "virtual key");
  if (body.name === undefined) throw badRequest("name is required", "invalid_request", "name");
  checkOwnFields(body, null, null);
  const { value, valueHash, valuePrefix } = await newKeyValue();
  const record = await store(c, buildVirtualKeyRecord({ id: crypto.randomUUID(), valueHash, valuePrefix }, body, null), null);
  return jsonResponse({ message: "Virtual key created successfully", virtual_key: { ...presentVirtualKey(record), value }, warnings: await warningsFor(c, record) });
});

virtualKeyRoutes.get("/:id", async (c) => jsonResponse({ virtual_key: presentVirtualKey(await existing(c, c.req.param("id"))) }));

/** Create-or-update by id, as Bifrost users script it. A created key's value is in the answer, once. */
virtualKeyRoutes.put("/:id", async (c) => {
  const id = c.req.param("id");
  if (!ID_PATTERN.test(id)) throw badRequest("a virtual key id is 1-128 letters, digits, '.', '_', ':' or '-'", "invalid_request", "id");
  const body = parseOrThrow(virtualKeyBodySchema, await readJsonObject(c.req.raw, BODY_LIMIT), "virtual key");
  const previous = await loadVirtualKey(c.env, id);
  checkOwnFields(body, previous, id);
  if (previous) {
    const record = await store(c, buildVirtualKeyRecord({ id, valueHash: previous.value_hash, valuePrefix: previous.value_prefix }, body, previous), previous);
    if (body.reset_budget_usage === true) await limiterFor(c.env, record).resetBudgets();
    return jsonResponse({ message: "Virtual key updated successfully", virtual_key: presentVirtualKey(record), warnings: await warningsFor(c, record) });
  }
  const { value, valueHash, valuePrefix } = await newKeyValue();
  const record = await store(c, buildVirtualKeyRecord({ id, valueHash, valuePrefix }, body, null), null);
  return jsonResponse({ message: "Virtual key created successfully", virtual_key: { ...presentVirtualKey(record), value }, warnings: await warningsFor(c, record) });
});

/** Live usage of every budget and limit, from the key's Durable Object. */
virtualKeyRoutes.get("/:id/usage", async (c) => {
  const record = await existing(c, c.req.param("id"));
  const [usage, groups] = await Promise.all([limiterFor(c.env, record).quota(), groupUsageOfKey(c.env, await getRoutingTable(c.env, waitUntilOf(c)), record)]);
  return jsonResponse({ usage, ...groups });
});

virtualKeyRoutes.delete("/:id", async (c) => {
  const record = await existing(c, c.req.param("id"));
  await limiterFor(c.env, record).configure(null);
  await deleteVirtualKey(c.env, record);
  await publishSnapshot(c.env);
  return jsonResponse({ message: "Virtual key deleted successfully" });
});
