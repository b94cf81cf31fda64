/**
 * GET /api/logs/usage: requests, errors, tokens and cost over a time range, grouped by virtual key, provider or
 * model — the top groups by cost, and the rest folded into one "other" line so the answer stays small whatever the
 * logs hold. Times are integer milliseconds; costs are summed in nano-dollars, the unit requests are metered in.
 */
import { queryOf } from "../http/query";
import type { Context } from "hono";
import * as z from "zod/mini";
import { parseOrThrow } from "../config/validation";
import type { AppEnv } from "../env";
import { GatewayError, jsonResponse } from "../http/errors";
import { time, wholeNumber } from "./query-time";

const HOUR_MS = 3_600_000;
const PRESETS = { "1h": HOUR_MS, "24h": 24 * HOUR_MS, "7d": 7 * 24 * HOUR_MS, "30d": 30 * 24 * HOUR_MS } as const;
/** Longer than any log retention worth having; it bounds the rows one query may scan. */
const MAX_SPAN_MS = 400 * 24 * HOUR_MS;

/** The column each breakdown groups by; a virtual key is named by the name its latest request carried. */
const GROUPS = {
  virtual_key: { column: "virtual_key_id", name: "virtual_key_name" },
  provider: { column: "provider", name: "provider" },
  model: { column: "model", name: "model" },
} as const;

const usageQuery = z.strictObject({
  group_by: z.enum(["virtual_key", "provider", "model"]),
  range: z.optional(z.enum(["1h", "24h", "7d", "30d"])),
  from: z.optional(time),
  to: z.optional(time),
  limit: z._default(wholeNumber(1, 100), 10),
});

interface GroupRow {
  rank: number;
  groups: number;
  k: string | null;
  name: string | null;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_nanos: number;
  latency_sum: number;
}

/** The range asked for: a preset counting back from `to` (default now), or from/to (default: the last 24 h). */
function rangeOf(query: z.infer<typeof usageQuery>, now: number): { from: number; to: number } {
  if (query.range !== undefined && query.from !== undefined) throw new GatewayError(400, "give either range or from, not both", "invalid_request", { param: "range" });
  const to = query.to ?? now;
  const from = query.from ?? to - PRESETS[query.range ?? "24h"];
  if (from >= to) throw new GatewayError(400, "from must be before to", "invalid_request", { param: "from" });
  if (to - from > MAX_SPAN_MS) throw new GatewayError(400, "the range may span at most 400 days", "invalid_request", { param: "from" });
  return { from, to };
}

function totalsOf(rows: readonly GroupRow[]) {
  const sum = (pick: (row: GroupRow) => number) => rows.reduce((total, row) => total + pick(row), 0);
  const requests = sum((r) => r.requests);
  return {
    requests,
    errors: sum((r) => r.errors),
    prompt_tokens: sum((r) => r.prompt_tokens),
    completion_tokens: sum((r) => r.completion_tokens),
    total_tokens: sum((r) => r.prompt_tokens + r.completion_tokens),
    cost: sum((r) => r.cost_nanos) / 1e9,
    avg_latency_ms: requests ? sum((r) => r.latency_sum) / requests : null,
  };
}

export async function usageBreakdown(c: Context<AppEnv>): Promise<Response> {
  const query = parseOrThrow(usageQuery, queryOf(c), "usage query");
  const { from, to } = rangeOf(query, Date.now());
  const group = GROUPS[query.group_by];
  // One row per group ranked by cost, then the groups past the limit summed into one line (rank = limit + 1).
  const { results } = await c.env.DB.prepare(
    `WITH grouped AS (
       SELECT ${group.column} AS k, MAX(ts) AS last_ts, ${group.name} AS name, COUNT(*) AS requests, SUM(status >= 400 OR error_code IS NOT NULL) AS errors,
              SUM(prompt_tokens) AS prompt_tokens, SUM(completion_tokens) AS completion_tokens, SUM(CAST(ROUND(cost * 1e9) AS INTEGER)) AS cost_nanos, SUM(latency_ms) AS latency_sum
       FROM request_logs WHERE ts >= ?1 AND ts < ?2 GROUP BY k),
     ranked AS (SELECT *, ROW_NUMBER() OVER (ORDER BY cost_nanos DESC, requests DESC, k) AS n FROM grouped)
     SELECT MIN(n) AS rank, COUNT(*) AS groups, k, name, SUM(requests) AS requests, SUM(errors) AS errors, SUM(prompt_tokens) AS prompt_tokens,
            SUM(completion_tokens) AS completion_tokens, SUM(cost_nanos) AS cost_nanos, SUM(latency_sum) AS latency_sum
     FROM ranked GROUP BY CASE WHEN n > ?3 THEN ?3 + 1 ELSE n END ORDER BY rank`,
  )
    .bind(from, to, query.limit)
    .all<GroupRow>();
  const line = (row: GroupRow) => ({ ...totalsOf([row]), key: row.k, name: row.name ?? row.k });
  const top = results.filter((row) => row.rank <= query.limit);
  const rest = results.find((row) => row.rank > query.limit);
  return jsonResponse({
    from,
    to,
    group_by: query.group_by,
    groups: top.map(line),
    other: rest ? { ...totalsOf([rest]), groups: rest.groups } : null,
    total: totalsOf(results),
  });
}
