/**
 * Log rows and metric counters reach D1 in batches, off every request's path: an isolate buffers rows and writes
 * them together — one D1 batch per FLUSH_INTERVAL_MS or per MAX_BATCH rows, never one query per request. The flush
 * runs in the waitUntil of the request that started the batch; requests only share plain data here.
 */
import type { Env } from "../env";
import type { LogRow } from "./log-row";
import { metricDeltas } from "./metrics";

const FLUSH_INTERVAL_MS = 1000;
const MAX_BATCH = 50;

let buffer: LogRow[] = [];
let flushScheduled = false;

const COLUMNS = [
  "id", "request_id", "ts", "virtual_key_id", "virtual_key_name", "provider", "provider_key", "origin", "model", "endpoint", "stream", "status",
  "error_code", "prompt_tokens", "completion_tokens", "cost", "latency_ms", "ttft_ms", "attempts", "fallback_index", "request_body", "response_body",
] as const;

const INSERT = `INSERT INTO request_logs (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map((_, i) => `?${i + 1}`).join(", ")})`;
const UPSERT = "INSERT INTO metric_counters (name, labels, value) VALUES (?1, ?2, ?3) ON CONFLICT(name, labels) DO UPDATE SET value = value + excluded.value";

async function flush(env: Env): Promise<void> {
  const rows = buffer;
  buffer = [];
  flushScheduled = false;
  if (rows.length === 0) return;
  const deltas = new Map<string, number>();
  for (const row of rows) metricDeltas(row, deltas);
  const statements = [
    ...rows.map((row) => env.DB.prepare(INSERT).bind(...COLUMNS.map((column) => (column === "stream" ? Number(row.stream) : row[column])))),
    ...[...deltas].map(([key, value]) => {
      const [name, labels] = key.split("\n");
      return env.DB.prepare(UPSERT).bind(name, labels ?? "", value);
    }),
  ];
  try {
    await env.DB.batch(statements);
  } catch (error) {
    console.error(`writing ${rows.length} log rows failed:`, error);
  }
}

/** Queues a row; the batch is written within FLUSH_INTERVAL_MS, or at once when it is full. */
export function enqueueLogRow(env: Env, row: LogRow, waitUntil: (promise: Promise<unknown>) => void): void {
  buffer.push(row);
  if (buffer.length >= MAX_BATCH) {
    waitUntil(flush(env));
    return;
  }
  if (flushScheduled) return;
  flushScheduled = true;
  waitUntil(new Promise((resolve) => setTimeout(resolve, FLUSH_INTERVAL_MS)).then(() => flush(env)));
}
