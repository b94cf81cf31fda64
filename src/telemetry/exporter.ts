/**
 * Spans leave an isolate in batches over OTLP/HTTP, off every request's path, the way log rows reach D1
 * (observability/log-writer.ts): the first span of a batch schedules an export OTEL_BSP_SCHEDULE_DELAY later in its
 * request's waitUntil, and a full batch goes at once. The buffer is bounded: past OTEL_BSP_MAX_QUEUE_SIZE the oldest
 * spans are dropped, so a collector that is down costs memory up to that bound and nothing more. Each export has a
 * timeout, nothing it does can throw into a request, and failures are logged at most once a minute, with counts,
 * rather than once per request.
 */
import { encodeTraces, stringAttribute, type KeyValue, type OtlpSpan } from "./otlp-encode";

export interface ExporterConfig {
  url: string;
  headers: Readonly<Record<string, string>>;
  timeoutMs: number;
  resource: readonly KeyValue[];
  scheduleDelayMs: number;
  maxQueueSize: number;
  maxBatchSize: number;
}

export type Send = (url: string, init: RequestInit) => Promise<Response>;

const SCOPE = { name: "vllm-edge-gateway" };
/** How often a failing collector is mentioned in the logs. */
const FAILURE_REPORT_INTERVAL_MS = 60_000;

export class SpanExporter {
  private buffer: OtlpSpan[] = [];
  private scheduled = false;
  private dropped = 0;
  private failedExports = 0;
  private lostSpans = 0;
  private lastReportAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly config: ExporterConfig,
    private readonly send: Send = (url, init) => fetch(url, init),
    private readonly now: () => number = Date.now,
  ) {}

  /** Queues a request's spans; they are exported within the schedule delay, or at once when a batch is full. */
  enqueue(spans: readonly OtlpSpan[], waitUntil: (promise: Promise<unknown>) => void): void {
    this.buffer.push(...spans);
    const excess = this.buffer.length - this.config.maxQueueSize;
    if (excess > 0) {
      this.buffer.splice(0, excess);
      this.dropped += excess;
    }
    if (this.buffer.length >= this.config.maxBatchSize) {
      waitUntil(this.flush());
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    waitUntil(new Promise((resolve) => setTimeout(resolve, this.config.scheduleDelayMs)).then(() => this.flush()));
  }

  /** Sends everything buffered, a batch per request; resolves (never rejects) once every batch succeeded or failed. */
  async flush(): Promise<void> {
    this.scheduled = false;
    const spans = this.buffer;
    this.buffer = [];
    const batches: Promise<void>[] = [];
    for (let start = 0; start < spans.length; start += this.config.maxBatchSize) batches.push(this.export(spans.slice(start, start + this.config.maxBatchSize)));
    await Promise.all(batches);
  }

  private async export(spans: OtlpSpan[]): Promise<void> {
    try {
      const response = await this.send(this.config.url, {
        method: "POST",
        headers: { ...this.config.headers, "content-type": "application/json" },
        body: encodeTraces(this.config.resource, SCOPE, spans),
        signal: AbortSignal.timeout(this.config.timeoutMs),
      });
      // The body is small ({} or a partial-success note); reading it frees the connection.
      await response.body?.cancel();
      if (!response.ok) this.failed(spans.length, `HTTP ${response.status}`);
    } catch (thrown) {
      this.failed(spans.length, thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown));
    }
  }

  private failed(spans: number, reason: string): void {
    this.failedExports += 1;
    this.lostSpans += spans;
    const now = this.now();
    if (now - this.lastReportAt < FAILURE_REPORT_INTERVAL_MS) return;
    this.lastReportAt = now;
    console.error(
      JSON.stringify({ event: "otlp_export_failed", url: this.config.url, reason, failed_exports: this.failedExports, spans_lost: this.lostSpans, spans_dropped: this.dropped }),
    );
    this.failedExports = 0;
    this.lostSpans = 0;
    this.dropped = 0;
  }
}

/**
 * The resource every span of this gateway belongs to: OTEL_RESOURCE_ATTRIBUTES, its service.name replaced by
 * OTEL_SERVICE_NAME when that is set, and named after the gateway when neither names it.
 */
export function resourceAttributes(serviceName: string | undefined, extra: Readonly<Record<string, string>>): KeyValue[] {
  const name = serviceName ?? extra["service.name"] ?? SCOPE.name;
  const attributes = Object.entries(extra)
    .filter(([key]) => key !== "service.name")
    .map(([key, value]) => stringAttribute(key, value));
  return [stringAttribute("service.name", name), ...attributes];
}
