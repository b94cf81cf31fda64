/**
 * Prometheus metrics with Bifrost's names. Values are counters and histogram buckets kept in D1 and incremented by
 * every batch of log rows, so a scrape — answered by any isolate, anywhere — sees the sum over all of them. They
 * trail reality by the log batching delay (about a second) and never go down (retention deletes log rows, not these).
 */
import type { LogRow } from "./log-row";

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 90];

interface MetricInfo {
  type: "counter" | "histogram" | "gauge";
  help: string;
}

export const METRICS: Record<string, MetricInfo> = {
  bifrost_requests_total: { type: "counter", help: "Inference requests the gateway answered, whether or not they reached an origin." },
  bifrost_request_duration_seconds: { type: "gauge", help: "Mean time from request to the end of the response, over every request counted." },
  bifrost_upstream_requests_total: { type: "counter", help: "Requests sent through the gateway to an upstream provider." },
  bifrost_success_requests_total: { type: "counter", help: "Requests that completed successfully." },
  bifrost_error_requests_total: { type: "counter", help: "Requests that failed, by status code." },
  bifrost_input_tokens_total: { type: "counter", help: "Prompt tokens processed." },
  bifrost_output_tokens_total: { type: "counter", help: "Completion tokens generated." },
  bifrost_cost_total: { type: "counter", help: "Cost in USD, at the configured prices." },
  bifrost_upstream_latency_seconds: { type: "histogram", help: "Time from request to the end of the response." },
  bifrost_stream_first_token_latency_seconds: { type: "histogram", help: "Time from request to the first streamed event." },
};

function escape(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labelsOf(pairs: Record<string, string>): string {
  return Object.entries(pairs)
    .map(([name, value]) => `${name}="${escape(value)}"`)
    .join(",");
}

/** Rendered label sets by (provider, model, virtual key): log rows repeat a few combinations, so each is built once. */
const renderedBase = new Map<string, string>();
const MAX_RENDERED = 5000;

function baseLabels(row: LogRow): string {
  const key = `${row.provider ?? ""}\u0000${row.metric_model}\u0000${row.virtual_key_name ?? ""}`;
  let labels = renderedBase.get(key);
  if (labels === undefined) {
    labels = labelsOf({ provider: row.provider ?? "", model: row.metric_model, virtual_key: row.virtual_key_name ?? "" });
    if (renderedBase.size >= MAX_RENDERED) renderedBase.clear();
    renderedBase.set(key, labels);
  }
  return labels;
}

const BUCKET_SUFFIXES = [...LATENCY_BUCKETS.map(String), "+Inf"].map((le) => `,le="${le}"`);

/** The counter increments one log row contributes, keyed by `name` + "\n" + rendered labels. */
export function metricDeltas(row: LogRow, into = new Map<string, number>()): Map<string, number> {
  const base = baseLabels(row);
  const add = (name: string, labels: string, value: number) => {
    const key = `${name}\n${labels}`;
    into.set(key, (into.get(key) ?? 0) + value);
  };
  const observe = (name: string, seconds: number) => {
    let first = LATENCY_BUCKETS.findIndex((le) => seconds <= le);
    if (first === -1) first = LATENCY_BUCKETS.length;
    // Every bucket gets a line (cumulative: 0 below the observation, 1 from it on), as histogram_quantile expects.
    BUCKET_SUFFIXES.forEach((suffix, i) => add(`${name}_bucket`, base + suffix, i >= first ? 1 : 0));
    add(`${name}_sum`, base, seconds);
    add(`${name}_count`, base, 1);
  };
  // Every request, at the gateway: what the tutorial's queries count and time.
  add("bifrost_requests_total", base, 1);
  add(`${DURATION}_sum`, base, row.latency_ms / 1000);
  add(`${DURATION}_count`, base, 1);
  // A stream that started (200) and then broke or carried an error frame is a failure too.
  if (row.status < 400 && row.error_code === null) add("bifrost_success_requests_total", base, 1);
  else add("bifrost_error_requests_total", `${base},status_code="${row.status < 400 ? "stream_error" : row.status}"`, 1);
  add("bifrost_cost_total", base, row.cost);
  // Upstream figures only for requests that reached an origin.
  if (row.attempts === 0) return into;
  add("bifrost_upstream_requests_total", base, 1);
  add("bifrost_input_tokens_total", base, row.prompt_tokens);
  add("bifrost_output_tokens_total", base, row.completion_tokens);
  observe("bifrost_upstream_latency_seconds", row.latency_ms / 1000);
  if (row.ttft_ms !== null) observe("bifrost_stream_first_token_latency_seconds", row.ttft_ms / 1000);
  return into;
}

/** The gauge is a mean, kept as a sum and a count of seconds and shown as their quotient at scrape time. */
const DURATION = "bifrost_request_duration_seconds";

export interface CounterRow {
  name: string;
  labels: string;
  value: number;
}

function baseName(name: string): string {
  return name.replace(/_(bucket|sum|count)$/, "");
}

const LE = /,?le="([^"]*)"$/;

/** A bucket's upper bound as a number (+Inf last), and its labels without `le`. */
function bucketOf(row: CounterRow): { labels: string; le: number } {
  const match = LE.exec(row.labels);
  if (!match) return { labels: row.labels, le: Number.NaN };
  return { labels: row.labels.slice(0, match.index), le: match[1] === "+Inf" ? Number.POSITIVE_INFINITY : Number(match[1]) };
}

/**
 * Families together, each family's series grouped by label set; a histogram's buckets in increasing numeric `le`
 * order with +Inf last, then its _sum and _count — the order the exposition format requires.
 */
function exposureOrder(a: CounterRow, b: CounterRow): number {
  const family = baseName(a.name).localeCompare(baseName(b.name));
  if (family !== 0) return family;
  const left = bucketOf(a);
  const right = bucketOf(b);
  const labels = left.labels.localeCompare(right.labels);
  if (labels !== 0) return labels;
  const suffix = (name: string) => (name.endsWith("_bucket") ? 0 : name.endsWith("_sum") ? 1 : 2);
  return suffix(a.name) - suffix(b.name) || left.le - right.le || a.name.localeCompare(b.name);
}

function header(lines: string[], name: string): void {
  const info = METRICS[name];
  if (info) lines.push(`# HELP ${name} ${info.help}`, `# TYPE ${name} ${info.type}`);
}

/** Prometheus text exposition format (0.0.4). */
export function renderMetrics(rows: readonly CounterRow[]): string {
  const lines: string[] = [];
  const durations = new Map<string, { sum: number; count: number }>();
  let current = "";
  for (const row of [...rows].sort(exposureOrder)) {
    const base = baseName(row.name);
    if (base === DURATION) {
      const entry = durations.get(row.labels) ?? { sum: 0, count: 0 };
      if (row.name.endsWith("_sum")) entry.sum = row.value;
      else entry.count = row.value;
      durations.set(row.labels, entry);
      continue;
    }
    if (base !== current) {
      current = base;
      header(lines, base);
    }
    lines.push(`${row.name}{${row.labels}} ${row.value}`);
  }
  if (durations.size > 0) {
    header(lines, DURATION);
    for (const [labels, { sum, count }] of durations) if (count > 0) lines.push(`${DURATION}{${labels}} ${sum / count}`);
  }
  return `${lines.join("\n")}\n`;
}
