/**
 * Log rows and metric counters reach D1 in batches, off every request's path: an isolate buffers rows and writes
 * them once per FLUSH_INTERVAL_MS, or as soon as ROWS_PER_FLUSH are waiting. A flush is one D1 batch — one
 * transaction, so one commit — of statements that each insert up to ROWS_PER_WRITE rows from a single JSON parameter,
 * plus one for the counters. Per-statement and per-commit costs are what made logging expensive at thousands of
 * requests a second: each commit rewrites the partly filled right-hand pages of the table and its five indexes, however
 * few rows it adds. Measured under load (`npm run bench:ab`, CPU per request, nine rounds), a flush every 250 rows cost
 * the gateway 21 µs a request over not logging at all, every 1,000 rows 12, and once a second (about 3,700 rows) 6.
 * The size bound still caps how long one flush holds the isolate's thread (rows to JSON, and locally the database
 * itself): 2,000 rows take a few milliseconds, once or twice a second at the highest rates one isolate serves.
 * The rows are read with jsonb_each, whose values SQLite extracts columns from without re-parsing each row's text once
 * per column (json_each's `value ->> i` does): half the database time of the insert. The flush runs in the waitUntil
 * of the request that started the batch; requests only share plain data here.
 */
import type { Env } from "../env";
import type { LogRow } from "./log-row";
import { MetricTotals } from "./metrics";

const FLUSH_INTERVAL_MS = 1000;
/** Rows written at once, without waiting for the interval. */
export const ROWS_PER_FLUSH = 2000;
/** Payload characters (LOG_PAYLOADS=true: up to 64 KiB a body) written at once, so buffered rows stay a few MB. */
export const PAYLOAD_CHARS_PER_FLUSH = 4_000_000;
/** Rows per write, and JSON per statement parameter (below D1's 2 MB limit on one value). */
const ROWS_PER_WRITE = 1000;
const MAX_PARAMETER_CHARS = 1_000_000;

let buffer: LogRow[] = [];
let bufferedPayloadChars = 0;
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
  bufferedPayloadChars = 0;
  if (rows.length === 0) return;
  try {
    const inserts = rowGroups(rows).map((group) => env.DB.prepare(INSERT_ROWS).bind(group));
    await env.DB.batch([...inserts, env.DB.prepare(ADD_COUNTERS).bind(counterIncrements(rows))]);
  } catch (error) {
    console.error(`writing ${rows.length} log rows failed:`, error);
  }
}

/**
 * Queues a row; the batch is written within FLUSH_INTERVAL_MS, or at once when ROWS_PER_FLUSH rows or
 * PAYLOAD_CHARS_PER_FLUSH payload characters are waiting.
 */
export function enqueueLogRow(env: Env, row: LogRow, waitUntil: (promise: Promise<unknown>) => void): void {
  buffer.push(row);
  if (row.request_body !== null) bufferedPayloadChars += row.request_body.length;
  if (row.response_body !== null) bufferedPayloadChars += row.response_body.length;
  if (buffer.length >= ROWS_PER_FLUSH || bufferedPayloadChars >= PAYLOAD_CHARS_PER_FLUSH) {
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
