/** GET /api/logs (filters, pagination), GET /api/logs/summary (time buckets for charts), and the retention clean-up. */
import { Hono } from "hono";
import type { AppEnv, Env } from "../env";
import { numberSetting } from "../env";
import { badRequest, jsonResponse } from "../http/errors";

interface Filter {
  where: string;
  bindings: (string | number)[];
}

function timeParam(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined || raw === "") return undefined;
  const value = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(value)) throw badRequest(`${name} must be an ISO time or milliseconds since the epoch`, "invalid_request", name);
  return value;
}

/** The WHERE clause for ?request_id=&virtual_key=&model=&provider=&status=&from=&to= (all optional). */
function filterOf(query: (name: string) => string | undefined): Filter {
  const clauses: string[] = [];
  const bindings: (string | number)[] = [];
  const add = (clause: string, ...values: (string | number)[]) => {
    clauses.push(clause.replace(/\?/g, () => `?${bindings.push(values.shift() as string | number)}`));
  };
  const requestId = query("request_id");
  if (requestId) add("request_id = ?", requestId);
  const key = query("virtual_key");
  if (key) add("(virtual_key_id = ? OR virtual_key_name = ?)", key, key);
  const model = query("model");
  if (model) add("model = ?", model);
  const provider = query("provider");
  if (provider) add("provider = ?", provider);
  const status = query("status");
  // A stream that started (200) and then broke or carried an error frame has an error_code: a failure.
  if (status === "error") clauses.push("(status >= 400 OR error_code IS NOT NULL)");
  else if (status === "success") clauses.push("(status < 400 AND error_code IS NULL)");
  else if (status) {
    if (!/^\d{3}$/.test(status)) throw badRequest("status must be a status code, 'success' or 'error'", "invalid_request", "status");
    add("status = ?", Number(status));
  }
  const from = timeParam(query("from"), "from");
  if (from !== undefined) add("ts >= ?", from);
  const to = timeParam(query("to"), "to");
  if (to !== undefined) add("ts < ?", to);
  return { where: clauses.length ? `WHERE ${clauses.join(" AND ")}` : "", bindings };
}

export const logRoutes = new Hono<AppEnv>();

logRoutes.get("/", async (c) => {
  const filter = filterOf((name) => c.req.query(name));
  const limit = Math.min(Math.max(Number(c.req.query("limit") ?? 50) || 50, 1), 500);
  const offset = Math.max(Number(c.req.query("offset") ?? 0) || 0, 0);
  const n = filter.bindings.length;
  const [rows, count] = await c.env.DB.batch<Record<string, unknown>>([
    c.env.DB.prepare(`SELECT * FROM request_logs ${filter.where} ORDER BY ts DESC, id LIMIT ?${n + 1} OFFSET ?${n + 2}`).bind(...filter.bindings, limit, offset),
    c.env.DB.prepare(`SELECT COUNT(*) AS total FROM request_logs ${filter.where}`).bind(...filter.bindings),
  ]);
  const logs = (rows?.results ?? []).map((row) => ({ ...row, stream: row.stream === 1, time: new Date(Number(row.ts)).toISOString() }));
  return jsonResponse({ logs, total: Number(count?.results[0]?.total ?? 0), limit, offset });
});

/** Requests, errors, tokens, cost and latency per time bucket, for the dashboard's charts. */
logRoutes.get("/summary", async (c) => {
  const filter = filterOf((name) => (name === "from" || name === "to" ? undefined : c.req.query(name)));
  const to = timeParam(c.req.query("to"), "to") ?? Date.now();
  const from = timeParam(c.req.query("from"), "from") ?? to - 24 * 3_600_000;
  const bucketMs = Math.max(Number(c.req.query("bucket_seconds") ?? 0) || Math.ceil((to - from) / 48_000), 10) * 1000;
  const n = filter.bindings.length;
  const where = `${filter.where ? `${filter.where} AND` : "WHERE"} ts >= ?${n + 1} AND ts < ?${n + 2}`;
  const { results } = await c.env.DB.prepare(
    `SELECT (ts / ?${n + 3}) * ?${n + 3} AS bucket, COUNT(*) AS requests, SUM(status >= 400 OR error_code IS NOT NULL) AS errors, SUM(prompt_tokens) AS prompt_tokens,
            SUM(completion_tokens) AS completion_tokens, SUM(cost) AS cost, AVG(latency_ms) AS avg_latency_ms, AVG(ttft_ms) AS avg_ttft_ms
     FROM request_logs ${where} GROUP BY bucket ORDER BY bucket`,
  )
    .bind(...filter.bindings, from, to, bucketMs)
    .all();
  return jsonResponse({ from, to, bucket_seconds: bucketMs / 1000, buckets: results });
});

/** Deletes log rows older than LOG_RETENTION_DAYS (default 30). Run by the scheduled handler. */
export async function enforceLogRetention(env: Env, now = Date.now()): Promise<number> {
  const cutoff = now - numberSetting(env.LOG_RETENTION_DAYS, 30) * 86_400_000;
  const { meta } = await env.DB.prepare("DELETE FROM request_logs WHERE ts < ?1").bind(cutoff).run();
  return meta.changes;
}
