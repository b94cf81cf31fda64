/**
 * Prometheus metrics with Bifrost's names. Values are counters and histogram buckets kept in D1 and incremented by
 * every batch of log rows, so a scrape — answered by any isolate, anywhere — sees the sum over all of them. They
 * trail reality by the log batching delay (about a second) and never go down (retention deletes log rows, not these).
 */
import { CLIENT_CLOSED, type LogRow } from "./log-row";

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

/** Observations per bucket (not cumulative: the first bucket each falls in), their sum and count. */
interface HistogramTotals {
  firstBuckets: number[];
  sum: number;
  count: number;
}

/** What a batch of rows adds to one label set's series. */
interface SeriesTotals {
  requests: number;
  durationSum: number;
  success: number;
  /** Errors by status_code label value. */
  errors: Map<string, number>;
  cost: number;
  upstream: number;
  inputTokens: number;
  outputTokens: number;
  latency: HistogramTotals;
  firstToken: HistogramTotals;
}

function histogram(): HistogramTotals {
  return { firstBuckets: new Array<number>(BUCKET_SUFFIXES.length).fill(0), sum: 0, count: 0 };
}

function observe(totals: HistogramTotals, seconds: number): void {
  let first = LATENCY_BUCKETS.findIndex((le) => seconds <= le);
  if (first === -1) first = LATENCY_BUCKETS.length;
  totals.firstBuckets[first] = (totals.firstBuckets[first] ?? 0) + 1;
  totals.sum += seconds;
  totals.count += 1;
}

/**
 * The counter increments a batch of log rows contributes. Rows are summed per label set as numbers first and turned
 * into series lines once per batch: a batch repeats a few label sets thousands of times.
 */
export class MetricTotals {
  private readonly series = new Map<string, SeriesTotals>();

  add(row: LogRow): void {
    const base = baseLabels(row);
    let totals = this.series.get(base);
    if (!totals) {
      totals = { requests: 0, durationSum: 0, success: 0, errors: new Map(), cost: 0, upstream: 0, inputTokens: 0, outputTokens: 0, latency: histogram(), firstToken: histogram() };
      this.series.set(base, totals);
    }
    // Every request, at the gateway: what the tutorial's queries count and time.
    totals.requests += 1;
    totals.durationSum += row.latency_ms / 1000;
    // A stream that started (200) and then broke or carried an error frame is a failure too.
    if (row.status < 400 && row.error_code === null) totals.success += 1;
    else {
      // A stream the client left is counted as nginx's 499, not as the origin's stream error.
      const status = row.error_code === CLIENT_CLOSED ? "499" : row.status < 400 ? "stream_error" : String(row.status);
      totals.errors.set(status, (totals.errors.get(status) ?? 0) + 1);
    }
    totals.cost += row.cost;
    // Upstream figures only for requests that reached an origin.
    if (row.attempts === 0) return;
    totals.upstream += 1;
    totals.inputTokens += row.prompt_tokens;
    totals.outputTokens += row.completion_tokens;
    observe(totals.latency, row.latency_ms / 1000);
    if (row.ttft_ms !== null) observe(totals.firstToken, row.ttft_ms / 1000);
  }

  /** [name, rendered labels, increment] for every series the rows touched. */
  increments(): [string, string, number][] {
    const out: [string, string, number][] = [];
    const histogramLines = (name: string, base: string, totals: HistogramTotals) => {
      if (totals.count === 0) return;
      // Every bucket gets a line, cumulative, as histogram_quantile expects.
      let cumulative = 0;
      BUCKET_SUFFIXES.forEach((suffix, i) => {
        cumulative += totals.firstBuckets[i] ?? 0;
        out.push([`${name}_bucket`, base + suffix, cumulative]);
      });
      out.push([`${name}_sum`, base, totals.sum], [`${name}_count`, base, totals.count]);
    };
    for (const [base, totals] of this.series) {
      out.push(["bifrost_requests_total", base, totals.requests], [`${DURATION}_sum`, base, totals.durationSum], [`${DURATION}_count`, base, totals.requests]);
      if (totals.success > 0) out.push(["bifrost_success_requests_total", base, totals.success]);
      for (const [status, count] of totals.errors) out.push(["bifrost_error_requests_total", `${base},status_code="${status}"`, count]);
      out.push(["bifrost_cost_total", base, totals.cost]);
      if (totals.upstream === 0) continue;
      out.push(["bifrost_upstream_requests_total", base, totals.upstream], ["bifrost_input_tokens_total", base, totals.inputTokens], ["bifrost_output_tokens_total", base, totals.outputTokens]);
      histogramLines("bifrost_upstream_latency_seconds", base, totals.latency);
      histogramLines("bifrost_stream_first_token_latency_seconds", base, totals.firstToken);
    }
    return out;
  }
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
