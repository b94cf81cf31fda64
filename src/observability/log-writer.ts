/**
 * Log rows and metric counters reach D1 in batches, off every request's path: an isolate buffers rows and writes
 * them once per FLUSH_INTERVAL_MS, whatever the traffic. Rows go in writes of up to ROWS_PER_WRITE, each one
 * statement that inserts them all from a single JSON parameter (SQLite's json_each), and the counters in one more:
 * at thousands of requests a second, per-statement costs were what made logging expensive. The writes follow one
 * another rather than forming one large transaction, so where the database shares the isolate's thread (locally)
 * no single write holds it for long. The flush runs in the waitUntil of the request that started the batch;
 * requests only share plain data here.
 */
import type { Env } from "../env";
import type { LogRow } from "./log-row";
import { MetricTotals } from "./metrics";

const FLUSH_INTERVAL_MS = 1000;
/** Rows held before a flush is forced (memory bound for a burst). */
const MAX_BUFFERED = 10_000;
/** Rows per write, and JSON per statement parameter (below D1's 2 MB limit on one value). */
const ROWS_PER_WRITE = 250;
const MAX_PARAMETER_CHARS = 1_000_000;

let buffer: LogRow[] = [];
let flushScheduled = false;

const COLUMNS = [
  "id", "request_id", "ts", "virtual_key_id", "virtual_key_name", "provider", "provider_key", "origin", "model", "endpoint", "stream", "status",
  "error_code", "prompt_tokens", "completion_tokens", "cost", "latency_ms", "ttft_ms", "attempts", "fallback_index", "request_body", "response_body", "cache_hit",
] as const;

/** Each element of ?1 is one row's values in COLUMNS order. */
const INSERT_ROWS = `INSERT INTO request_logs (${COLUMNS.join(", ")}) SELECT ${COLUMNS.map((_, i) => `value ->> ${i}`).join(", ")} FROM json_each(?1)`;
/** Each element of ?1 is [name, labels, increment]; `WHERE true` lets SQLite parse the upsert after a SELECT. */
const ADD_COUNTERS =
  "INSERT INTO metric_counters (name, labels, value) SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?1) WHERE true " +
  "ON CONFLICT(name, labels) DO UPDATE SET value = value + excluded.value";

/** Rows as JSON arrays, grouped so no group's JSON exceeds MAX_PARAMETER_CHARS. */
function rowGroups(rows: readonly LogRow[]): string[] {
  const groups: string[] = [];
  let current: string[] = [];
  let size = 0;
  for (const row of rows) {
    const json = JSON.stringify(COLUMNS.map((column) => (column === "stream" || column === "cache_hit" ? Number(row[column]) : row[column])));
    if ((size + json.length > MAX_PARAMETER_CHARS || current.length >= ROWS_PER_WRITE) && current.length > 0) {
      groups.push(`[${current.join(",")}]`);
      current = [];
      size = 0;
    }
    current.push(json);
    size += json.length + 1;
  }
  if (current.length > 0) groups.push(`[${current.join(",")}]`);
  return groups;
}

function counterIncrements(rows: readonly LogRow[]): string {
  const totals = new MetricTotals();
  for (const row of rows) totals.add(row);
  return JSON.stringify(totals.increments());
}

async function flush(env: Env): Promise<void> {
  const rows = buffer;
  buffer = [];
  flushScheduled = false;
  if (rows.length === 0) return;
  try {
    for (const group of rowGroups(rows)) await env.DB.prepare(INSERT_ROWS).bind(group).run();
    await env.DB.prepare(ADD_COUNTERS).bind(counterIncrements(rows)).run();
  } catch (error) {
    console.error(`writing ${rows.length} log rows failed:`, error);
  }
}

/** Queues a row; the batch is written within FLUSH_INTERVAL_MS, or at once when the buffer is full. */
export function enqueueLogRow(env: Env, row: LogRow, waitUntil: (promise: Promise<unknown>) => void): void {
  buffer.push(row);
  if (buffer.length >= MAX_BUFFERED) {
    waitUntil(flush(env));
    return;
  }
  if (flushScheduled) return;
  flushScheduled = true;
  waitUntil(new Promise((resolve) => setTimeout(resolve, FLUSH_INTERVAL_MS)).then(() => flush(env)));
}
