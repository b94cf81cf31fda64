/**
 * Log rows and metric counters reach D1 in batches, off every request's path: an isolate buffers rows and writes
 * them once per FLUSH_INTERVAL_MS, or as soon as ROWS_PER_FLUSH are waiting. The size bound keeps each flush short:
 * a flush's JavaScript (rows to JSON, the D1 call) runs on the isolate's one thread, so a second's worth of rows at
 * a thousand requests a second stalled every request in flight for tens of milliseconds, once a second; a few
 * hundred rows cost a few. A flush is one D1 batch — one transaction, so one commit —
 * of statements that each insert up to ROWS_PER_WRITE rows from a single JSON parameter, plus one for the counters:
 * at thousands of requests a second, per-statement and per-commit costs were what made logging expensive. The rows
 * are read with jsonb_each, whose values SQLite extracts columns from without re-parsing each row's text once per
 * column (json_each's `value ->> i` does): half the database time of the insert. The flush runs in the waitUntil of
 * the request that started the batch; requests only share plain data here.
 */
import type { Env } from "../env";
import type { LogRow } from "./log-row";
import { MetricTotals } from "./metrics";

const FLUSH_INTERVAL_MS = 1000;
/** Rows written at once, without waiting for the interval. */
const ROWS_PER_FLUSH = 250;
/** Rows per write, and JSON per statement parameter (below D1's 2 MB limit on one value). */
const ROWS_PER_WRITE = 1000;
const MAX_PARAMETER_CHARS = 1_000_000;

let buffer: LogRow[] = [];
/** A timer is waiting to write what the buffer holds (one at a time, however many size-bound flushes run meanwhile). */
let timerPending = false;

const COLUMNS = [
  "id", "request_id", "ts", "virtual_key_id", "virtual_key_name", "provider", "provider_key", "origin", "model", "endpoint", "stream", "status",
  "error_code", "prompt_tokens", "completion_tokens", "cost", "latency_ms", "ttft_ms", "attempts", "fallback_index", "request_body", "response_body", "cache_hit",
] as const;

/** Each element of ?1 is one row's values in COLUMNS order. */
const INSERT_ROWS = `INSERT INTO request_logs (${COLUMNS.join(", ")}) SELECT ${COLUMNS.map((_, i) => `value ->> ${i}`).join(", ")} FROM jsonb_each(?1)`;
/** Each element of ?1 is [name, labels, increment]; `WHERE true` lets SQLite parse the upsert after a SELECT. */
const ADD_COUNTERS =
  "INSERT INTO metric_counters (name, labels, value) SELECT value ->> 0, value ->> 1, value ->> 2 FROM jsonb_each(?1) WHERE true " +
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

/** Writes what the buffer holds now. */
async function flush(env: Env): Promise<void> {
  const rows = buffer;
  buffer = [];
  if (rows.length === 0) return;
  try {
    const inserts = rowGroups(rows).map((group) => env.DB.prepare(INSERT_ROWS).bind(group));
    await env.DB.batch([...inserts, env.DB.prepare(ADD_COUNTERS).bind(counterIncrements(rows))]);
  } catch (error) {
    console.error(`writing ${rows.length} log rows failed:`, error);
  }
}

/** Queues a row; the batch is written within FLUSH_INTERVAL_MS, or at once when ROWS_PER_FLUSH are waiting. */
export function enqueueLogRow(env: Env, row: LogRow, waitUntil: (promise: Promise<unknown>) => void): void {
  buffer.push(row);
  if (buffer.length >= ROWS_PER_FLUSH) {
    waitUntil(flush(env));
    return;
  }
  if (timerPending) return;
  timerPending = true;
  waitUntil(
    new Promise((resolve) => setTimeout(resolve, FLUSH_INTERVAL_MS)).then(() => {
      timerPending = false;
      return flush(env);
    }),
  );
}
