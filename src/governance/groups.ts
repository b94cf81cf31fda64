/**
 * Teams and customers, Bifrost-shaped: groups of virtual keys with their own budgets and rate limits. A key belongs to
 * a team or to a customer; a team may belong to a customer. A request is admitted only if every level admits it, and
 * is charged at every level.
 */
import * as z from "zod/mini";
import { displayName } from "../config/validation";
import { badRequest } from "../http/errors";
import { KEY_SCOPE, type LimiterConfig } from "./limits";
import { budgetsOf, rateLimitOf } from "./records";
import { alertSettingsOf, alertsSchema, type AlertSettings } from "../alerts/config";
import { budgetPatchSchema, budgetSchema, groupId, leaseShare, rateLimitSchema, type Budget, type RateLimit } from "./schema";

export type GroupKind = "team" | "customer";

const name = displayName;

/** Body of POST and PUT /api/governance/teams: `{name, customer_id?, budgets[], rate_limit?}`. */
export const teamBodySchema = z.strictObject({
  id: z.optional(groupId),
  name: z.optional(name),
  description: z.optional(z.string().check(z.maxLength(1024))),
  customer_id: z.nullish(groupId),
  budgets: z.optional(z.array(budgetSchema).check(z.maxLength(20))),
  budget: z.optional(budgetPatchSchema),
  rate_limit: z.nullish(rateLimitSchema),
  lease_share: z.nullish(leaseShare),
  alerts: z.nullish(alertsSchema),
});

/** Body of POST and PUT /api/governance/customers: `{name, budget?, rate_limit?}` (several budgets allowed too). */
export const customerBodySchema = z.strictObject({
  id: z.optional(groupId),
  name: z.optional(name),
  description: z.optional(z.string().check(z.maxLength(1024))),
  budgets: z.optional(z.array(budgetSchema).check(z.maxLength(20))),
  budget: z.optional(budgetPatchSchema),
  rate_limit: z.nullish(rateLimitSchema),
  lease_share: z.nullish(leaseShare),
  alerts: z.nullish(alertsSchema),
});

export type GroupBody = z.infer<typeof teamBodySchema>;

export interface GroupRecord {
  kind: GroupKind;
  id: string;
  name: string;
  description: string;
  /** A team's customer (always null for customers). */
  customer_id: string | null;
  budgets: Budget[];
  rate_limit: RateLimit | null;
  /** null: the gateway's LEASE_SHARE. */
  lease_share: number | null;
  /** Absent (older records) or null: the gateway's default webhook and thresholds. */
  alerts?: AlertSettings | null;
  created_at: string;
  updated_at: string;
}

/** What every request path needs to know of a group, published with the routing table. */
export interface GroupSummary {
  kind: GroupKind;
  id: string;
  name: string;
  customer_id: string | null;
  /** It has a budget or a rate limit: requests must be admitted by its limiter. */
  limited: boolean;
  /** It has a dollar budget: its keys' requests must be priced (absent in older snapshots: no). */
  budgeted?: boolean;
  lease_share: number | null;
}

export function summaryOf(record: GroupRecord): GroupSummary {
  return {
    kind: record.kind,
    id: record.id,
    name: record.name,
    customer_id: record.customer_id,
    limited: record.budgets.length > 0 || record.rate_limit !== null,
    budgeted: record.budgets.length > 0,
    lease_share: record.lease_share,
  };
}

/** A new record, or `previous` with the fields present in `body` replaced (`budgets` replaces the whole set). */
export function buildGroupRecord(kind: GroupKind, id: string, body: GroupBody, previous: GroupRecord | null): GroupRecord {
  const now = new Date().toISOString();
  const rateLimit = rateLimitOf(body.rate_limit);
  const customerId = kind === "team" ? (body.customer_id === undefined ? (previous?.customer_id ?? null) : body.customer_id) : null;
  if (customerId === id && kind === "team") throw badRequest("a team cannot be its own customer", "invalid_request", "customer_id");
  return {
    kind,
    id,
    name: body.name ?? previous?.name ?? id,
    description: body.description ?? previous?.description ?? "",
    customer_id: customerId,
    budgets: budgetsOf(body.budgets, body.budget, previous?.budgets ?? [], kind) ?? previous?.budgets ?? [],
    rate_limit: rateLimit === undefined ? (previous?.rate_limit ?? null) : rateLimit,
    lease_share: body.lease_share === undefined ? (previous?.lease_share ?? null) : body.lease_share,
    alerts: alertSettingsOf(body.alerts, previous?.alerts),
    created_at: previous?.created_at ?? now,
    updated_at: now,
  };
}

/** The limiter name of a group: its own Durable Object, apart from every key's. */
export function groupLimiterName(kind: GroupKind, id: string): string {
  return `${kind}:${id}`;
}

export function limiterConfigOfGroup(record: GroupRecord): LimiterConfig {
  return {
    name: record.name,
    owner: `${record.kind} '${record.name}'`,
    active: true,
    maxConcurrent: null,
    budgets: record.budgets.map((budget) => ({ ...budget, scope: KEY_SCOPE })),
    rateLimits: record.rate_limit ? [{ ...record.rate_limit, scope: KEY_SCOPE }] : [],
    ...(record.lease_share !== null ? { leaseShare: record.lease_share } : {}),
    entity: { kind: record.kind, id: record.id },
    alerts: record.alerts ?? null,
  };
}
