/**
 * /api/governance/teams and /api/governance/customers — Bifrost's team and customer API. Every write installs the
 * group's limits in its own Durable Object and republishes the routing table, so the next request everywhere counts
 * against them.
 */
import { queryOf } from "../http/query";
import { routeGroup, type App } from "../http/apps";
import * as z from "zod/mini";
import { wholeNumber } from "./query-time";
import type { Context } from "hono";
import { parseOrThrow } from "../config/validation";
import { publishSnapshot } from "../config/store";
import type { AppEnv, Env } from "../env";
import { readJsonObject } from "../http/body";
import { GatewayError, badRequest, jsonResponse } from "../http/errors";
import { limiterNamed } from "../governance/admission";
import { deleteGroup, listGroups, loadGroup, memberSamples, membersOf, saveGroup } from "../governance/group-store";
import type { VirtualKeyRecord } from "../governance/schema";
import { presentAlerts, sealAlertSecrets } from "../alerts/config";
import { buildGroupRecord, customerBodySchema, groupLimiterName, limiterConfigOfGroup, teamBodySchema, type GroupBody, type GroupKind, type GroupRecord } from "../governance/groups";

const BODY_LIMIT = 256 * 1024;
const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

const listQuery = z.object({
  limit: z._default(wholeNumber(1, 100), 25),
  offset: z._default(wholeNumber(0, 1_000_000_000), 0),
  search: z.optional(z.string().check(z.maxLength(128))),
  customer_id: z.optional(z.string().check(z.maxLength(128))),
  /** `true`: each group also carries its members' count and first names (one request for a page of cards). */
  members: z.optional(z.enum(["true", "false"])),
});

/** Member names a list answer carries per group with `members=true`. */
const MEMBER_NAMES = 10;

const capitalised = (kind: GroupKind) => (kind === "team" ? "Team" : "Customer");

/** A group as answers show it: its alert secrets masked. */
const presentGroup = (record: GroupRecord): GroupRecord => ({ ...record, alerts: presentAlerts(record.alerts) });

/** A group's limiter, installed with its limits (null when it is deleted). */
export async function installGroupLimits(env: Env, record: GroupRecord | null, kind: GroupKind, id: string): Promise<void> {
  await limiterNamed(env, groupLimiterName(kind, id)).configure(record ? limiterConfigOfGroup(record) : null);
}

/** A team's customer must exist: a typo would otherwise leave the team outside every customer budget, silently. */
export async function checkCustomerExists(env: Env, customerId: string | null | undefined, field = "customer_id"): Promise<void> {
  if (customerId && !(await loadGroup(env, "customer", customerId))) throw badRequest(`customer '${customerId}' does not exist`, "invalid_request", field);
}

/** The team or customer a virtual key names must exist. */
export async function checkGroupsExist(env: Env, record: Pick<VirtualKeyRecord, "team_id" | "customer_id">): Promise<void> {
  if (record.team_id && !(await loadGroup(env, "team", record.team_id))) throw badRequest(`team '${record.team_id}' does not exist`, "invalid_request", "team_id");
  await checkCustomerExists(env, record.customer_id);
}

/** Saves a group's record (its alert secrets sealed), installs its limits, and answers the record as stored. */
async function store(env: Env, built: GroupRecord): Promise<GroupRecord> {
  if (built.kind === "team") await checkCustomerExists(env, built.customer_id);
  const record: GroupRecord = { ...built, alerts: await sealAlertSecrets(built.alerts, env.CONFIG_ENCRYPTION_KEY) };
  try {
    await saveGroup(env, record);
  } catch (error) {
    if (error instanceof Error && /UNIQUE constraint failed: governance_groups\.kind, governance_groups\.name/.test(error.message)) {
      throw new GatewayError(409, `a ${record.kind} named '${record.name}' already exists`, `${record.kind}_exists`);
    }
    throw error;
  }
  await installGroupLimits(env, record, record.kind, record.id);
  await publishSnapshot(env);
  return record;
}

/** The CRUD routes of one kind of group. */
export function groupRoutes(kind: GroupKind): App {
  const plural = `${kind}s`;
  const schema = kind === "team" ? teamBodySchema : customerBodySchema;
  const routes = routeGroup();
  const existing = async (c: Context<AppEnv>, id: string): Promise<GroupRecord> => {
    const record = await loadGroup(c.env, kind, id);
    if (!record) throw new GatewayError(404, `${kind} '${id}' not found`, `${kind}_not_found`);
    return record;
  };
  const readBody = async (c: Context<AppEnv>) => parseOrThrow(schema, await readJsonObject(c.req.raw, BODY_LIMIT), kind);
  const write = async (c: Context<AppEnv>, id: string, previous: GroupRecord | null, body: GroupBody) => {
    if (!previous && body.name === undefined) throw badRequest("name is required", "invalid_request", "name");
    const record = await store(c.env, buildGroupRecord(kind, id, body, previous));
    return jsonResponse({ message: `${capitalised(kind)} ${previous ? "updated" : "created"} successfully`, [kind]: presentGroup(record) });
  };

  routes.get("/", async (c) => {
    const { limit, offset, search, customer_id: customerId, members } = parseOrThrow(listQuery, queryOf(c), `${kind} list query`);
    const page = await listGroups(c.env, kind, { limit, offset, search, customerId });
    const samples = members === "true" ? await memberSamples(c.env, kind, page.records.map((record) => record.id), MEMBER_NAMES) : null;
    const groups = samples
      ? page.records.map((record) => ({ ...presentGroup(record), members: { virtual_keys: samples.keys(record.id), ...(kind === "customer" ? { teams: samples.teams(record.id) } : {}) } }))
      : page.records.map(presentGroup);
    return jsonResponse({ [plural]: groups, count: page.records.length, total_count: page.total, limit, offset });
  });

  routes.post("/", async (c) => {
    const body = await readBody(c);
    const id = body.id ?? crypto.randomUUID();
    if (await loadGroup(c.env, kind, id)) throw new GatewayError(409, `a ${kind} with id '${id}' already exists`, `${kind}_exists`);
    return write(c, id, null, body);
  });

  routes.get("/:id", async (c) => jsonResponse({ [kind]: presentGroup(await existing(c, c.req.param("id"))) }));

  /** Update, or create under this id (as scripts that own their ids do). */
  routes.put("/:id", async (c) => {
    const id = c.req.param("id");
    if (!ID_PATTERN.test(id)) throw badRequest(`a ${kind} id is 1-128 letters, digits, '.', '_', ':' or '-'`, "invalid_request", "id");
    const body = await readBody(c);
    return write(c, id, await loadGroup(c.env, kind, id), body);
  });

  /** Live usage of every budget and rate limit, from the group's Durable Object. */
  routes.get("/:id/usage", async (c) => {
    const record = await existing(c, c.req.param("id"));
    return jsonResponse({ usage: await limiterNamed(c.env, groupLimiterName(kind, record.id)).quota() });
  });

  routes.delete("/:id", async (c) => {
    const record = await existing(c, c.req.param("id"));
    const members = await membersOf(c.env, kind, record.id);
    if (members.length > 0) {
      throw new GatewayError(409, `${kind} '${record.name}' still has members (${members.join(", ")}): move or delete them first`, `${kind}_in_use`);
    }
    await installGroupLimits(c.env, null, kind, record.id);
    await deleteGroup(c.env, kind, record.id);
    await publishSnapshot(c.env);
    return jsonResponse({ message: `${capitalised(kind)} deleted successfully` });
  });
  return routes;
}
