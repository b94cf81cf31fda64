/** GET /api/logs (filters, pagination), GET /api/logs/summary (time buckets for charts), GET /api/logs/usage (breakdowns), and the retention clean-up. */
import { queryOf } from "../http/query";
import { routeGroup, type App } from "../http/apps";
import type { AppEnv, Env } from "../env";
import * as z from "zod/mini";
import { parseOrThrow } from "../config/validation";
import { GatewayError, jsonResponse } from "../http/errors";
import { settingsOf } from "../settings";
import { time, wholeNumber } from "./query-time";
import { usageBreakdown } from "./usage";

interface Filter {
  where: string;
  bindings: (string | number)[];
}

/** The query of /api/logs and /api/logs/summary: every parameter optional, every one bounded. */
const logQuery = z.object({
  request_id: z.optional(z.string().check(z.maxLength(128))),
  virtual_key: z.optional(z.string().check(z.maxLength(128))),
  model: z.optional(z.string().check(z.maxLength(512))),
  provider: z.optional(z.string().check(z.maxLength(128))),
  status: z.optional(z.union([z.enum(["success", "error"]), z.string().check(z.regex(/^[1-5]\d\d$/, "must be a status code (100-599), 'success' or 'error'"))])),
  from: z.optional(time),
  to: z.optional(time),
  limit: z._default(wholeNumber(1, 500), 50),
  offset: z._default(wholeNumber(0, 1_000_000_000), 0),
  bucket_seconds: z.optional(wholeNumber(10, 31_536_000)),
});

/** A query's time range, refused when it ends before it begins (an empty answer would look like no traffic). */
function checkRange(from: number | undefined, to: number | undefined): void {
  if (from !== undefined && to !== undefined && from >= to) throw new GatewayError(400, "from must be before to", "invalid_request", { param: "from" });
}

type LogQuery = z.infer<typeof logQuery>;

/** The WHERE clause for ?request_id=&virtual_key=&model=&provider=&status=&from=&to= (all optional). */
function filterOf(query: LogQuery, withTime = true): Filter {
  const clauses: string[] = [];
  const bindings: (string | number)[] = [];
  const add = (clause: string, ...values: (string | number)[]) => {
    clauses.push(clause.replace(/\?/g, () => `?${bindings.push(values.shift() as string | number)}`));
  };
  if (query.request_id) add("request_id = ?", query.request_id);
  // Rows keep the name a key had when they were written: its current name finds them through its id.
  if (query.virtual_key) add("(virtual_key_id = ? OR virtual_key_name = ? OR virtual_key_id IN (SELECT id FROM virtual_keys WHERE name = ?))", query.virtual_key, query.virtual_key, query.virtual_key);
  if (query.model) add("model = ?", query.model);
  if (query.provider) add("provider = ?", query.provider);
  // A stream that started (200) and then broke or carried an error frame has an error_code: a failure.
  if (query.status === "error") clauses.push("(status >= 400 OR error_code IS NOT NULL)");
  else if (query.status === "success") clauses.push("(status < 400 AND error_code IS NULL)");
  else if (query.status) add("status = ?", Number(query.status));
  if (withTime && query.from !== undefined) add("ts >= ?", query.from);
  if (withTime && query.to !== undefined) add("ts < ?", query.to);
  return { where: clauses.length ? `WHERE ${clauses.join(" AND ")}` : "", bindings };
}

export const logRoutes = routeGroup();

logRoutes.get("/", async (c) => {
  const query = parseOrThrow(logQuery, queryOf(c), "log query");
  checkRange(query.from, query.to);
  const filter = filterOf(query);
  const n = filter.bindings.length;
  const [rows, count] = await c.env.DB.batch<Record<string, unknown>>([
    c.env.DB.prepare(`SELECT * FROM request_logs ${filter.where} ORDER BY ts DESC, id LIMIT ?${n + 1} OFFSET ?${n + 2}`).bind(...filter.bindings, query.limit, query.offset),
    c.env.DB.prepare(`SELECT COUNT(*) AS total FROM request_logs ${filter.where}`).bind(...filter.bindings),
  ]);
  const logs = (rows?.results ?? []).map((row) => ({ ...row, stream: row.stream === 1, time: new Date(Number(row.ts)).toISOString() }));
  return jsonResponse({ logs, total: Number(count?.results[0]?.total ?? 0), limit: query.limit, offset: query.offset });
});

/** Requests, errors, tokens and cost by virtual key, provider or model over a time range (usage.ts). */
logRoutes.get("/usage", usageBreakdown);

/** Requests, errors, tokens, cost and latency per time bucket, for the dashboard's charts. */
logRoutes.get("/summary", async (c) => {
  const query = parseOrThrow(logQuery, queryOf(c), "log summary query");
  checkRange(query.from, query.to);
  const filter = filterOf(query, false);
  const to = query.to ?? Date.now();
  const from = query.from ?? to - 24 * 3_600_000;
  const bucketMs = (query.bucket_seconds ?? Math.max(10, Math.ceil((to - from) / 48_000))) * 1000;
  const n = filter.bindings.length;
  const where = `${filter.where ? `${filter.where} AND` : "WHERE"} ts >= ?${n + 1} AND ts < ?${n + 2}`;
  // Integer arithmetic: each row falls into the bucket its time starts.
  const bucket = `CAST(?${n + 3} AS INTEGER)`;
  const { results } = await c.env.DB.prepare(
    `SELECT (ts / ${bucket}) * ${bucket} AS bucket, COUNT(*) AS requests, SUM(status >= 400 OR error_code IS NOT NULL) AS errors, SUM(prompt_tokens) AS prompt_tokens,
            SUM(completion_tokens) AS completion_tokens, SUM(cost) AS cost, AVG(latency_ms) AS avg_latency_ms, AVG(ttft_ms) AS avg_ttft_ms, COUNT(ttft_ms) AS streams
     FROM request_logs ${where} GROUP BY bucket ORDER BY bucket`,
  )
    .bind(...filter.bindings, from, to, bucketMs)
    .all();
  return jsonResponse({ from, to, bucket_seconds: bucketMs / 1000, buckets: results });
});

/** Deletes log rows older than LOG_RETENTION_DAYS (default 30). Run by the scheduled handler. */
export async function enforceLogRetention(env: Env, now = Date.now()): Promise<number> {
  const cutoff = now - settingsOf(env).LOG_RETENTION_DAYS * 86_400_000;
  const { meta } = await env.DB.prepare("DELETE FROM request_logs WHERE ts < ?1").bind(cutoff).run();
  return meta.changes;
}
