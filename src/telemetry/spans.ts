/**
 * One trace per inference request: a SERVER span for the request and a CLIENT span, its child, for every origin
 * attempt, each sending the origin a `traceparent` that names it. Spans are plain records while the request runs
 * — a status here, a timestamp there — and become OTLP only once the request has finished (its log row is
 * written), in waitUntil, off the response's path. When no exporter is configured, or the caller's trace is not
 * sampled, nothing is recorded and an incoming `traceparent` reaches the origin unchanged.
 */
import type { LogRow, TraceOutcome } from "../observability/log-row";
import type { InferencePlan, UpstreamPlan } from "../pipeline/plan";
import type { Target } from "../routing/resolve";
import type { UsageReport } from "../upstream/respond";
import { attemptAttributes, operationOf, requestParameters, requestSpanAttributes, type AttemptRecord } from "./attributes";
import type { SpanExporter } from "./exporter";
import { asGatewayError } from "../http/errors";
import type { Settings } from "../settings";
import { AnswerScan, scannedBody } from "./answer-scan";
import { exporterFor } from "./config";
import { randomIds, type IdSource } from "./ids";
import { SPAN_KIND_CLIENT, SPAN_KIND_SERVER, STATUS_ERROR, STATUS_UNSET, spanFlags, unixNanos, type KeyValue, type OtlpSpan } from "./otlp-encode";
import { formatTraceparent, isSampled, parseTraceparent, type SpanContext } from "./traceparent";

/** What an origin call carries of the trace (upstream/origin.ts). */
export interface OriginTrace {
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
  /** A recording span notes the origin's status and reads a successful body as it passes (see answer-scan.ts). */
  answered?(response: Response): Response;
}

/** One origin attempt's span. */
export interface AttemptSpan extends OriginTrace {
  /** The answer was delivered (a stream: to its end) with this usage. */
  succeeded(usage: UsageReport): void;
  failed(error: unknown): void;
}

/** The request's side of tracing, as the inference pipeline sees it. */
export interface Tracing {
  /** What the request asks (its operation, and its prompt when payloads are kept). */
  describe(plan: InferencePlan): void;
  attempt(target: Target, upstream: UpstreamPlan): AttemptSpan;
}

/** Not recording: every attempt passes the caller's trace context on unchanged (or none), at no cost. */
class Passthrough implements Tracing, AttemptSpan {
  constructor(
    readonly traceparent: string | undefined,
    readonly tracestate: string | undefined,
  ) {}
  describe(): void {}
  attempt(): AttemptSpan {
    return this;
  }
  succeeded(): void {}
  failed(): void {}
}

const UNTRACED = new Passthrough(undefined, undefined);

export function passthroughOf(headers: Headers): Tracing {
  const traceparent = headers.get("traceparent");
  return traceparent === null ? UNTRACED : new Passthrough(traceparent, headers.get("tracestate") ?? undefined);
}

export interface SpanOptions {
  exporter: SpanExporter;
  ids: IdSource;
  now: () => number;
  /** LOG_PAYLOADS: prompts and completions go on the request span. */
  payloads: boolean;
}

class ClientSpan implements AttemptSpan {
  readonly record: AttemptRecord;
  readonly traceparent: string;
  private scan: AnswerScan | undefined;

  constructor(
    private readonly request: RequestSpan,
    private readonly upstream: UpstreamPlan,
    target: Target,
    spanId: string,
  ) {
    this.record = { spanId, target, operation: operationOf(upstream.pathKey), startMs: request.options.now(), finishReasons: [] };
    this.traceparent = formatTraceparent(request.traceId, spanId, request.flags);
  }

  get tracestate(): string | undefined {
    return this.request.traceState;
  }

  answered(response: Response): Response {
    this.record.status = response.status;
    if (!response.ok || response.body === null) return response;
    this.scan = new AnswerScan();
    return new Response(scannedBody(response.body, this.scan), { status: response.status, statusText: response.statusText, headers: response.headers });
  }

  succeeded(usage: UsageReport): void {
    this.end();
    if (!usage.estimated) this.record.usage = { input: usage.promptTokens, output: usage.completionTokens };
    // A stream that broke after it started answered, then failed.
    if (usage.originFailed) this.record.errorType = usage.failureCode ?? "stream_failed";
  }

  failed(error: unknown): void {
    this.end();
    const failure = asGatewayError(error);
    this.record.errorType = failure.code ?? String(failure.status);
    this.record.errorMessage = failure.message;
  }

  /** The attempt's parameters are read as it ends: the body holds this attempt's values until the next one starts. */
  private end(): void {
    this.record.endMs = this.request.options.now();
    if (this.upstream.kind === "json") this.record.parameters = requestParameters(this.upstream.body);
    const facts = this.scan?.facts;
    if (facts) Object.assign(this.record, { responseId: facts.id, responseModel: facts.model, finishReasons: facts.finishReasons });
  }
}

export class RequestSpan implements Tracing {
  readonly traceId: string;
  readonly spanId: string;
  readonly flags: string;
  readonly traceState: string | undefined;
  private readonly parentSpanId: string | undefined;
  private readonly attempts: ClientSpan[] = [];
  private operation: string | undefined;
  private prompt: unknown;

  constructor(
    readonly options: SpanOptions,
    parent: SpanContext | null,
  ) {
    this.traceId = parent?.traceId ?? options.ids.traceId();
    this.spanId = options.ids.spanId();
    this.flags = parent?.flags ?? "01";
    this.traceState = parent?.traceState;
    this.parentSpanId = parent?.spanId;
  }

  describe(plan: InferencePlan): void {
    this.operation = operationOf(plan.upstream.pathKey);
    if (this.options.payloads && plan.upstream.kind === "json") this.prompt = plan.upstream.body;
  }

  attempt(target: Target, upstream: UpstreamPlan): AttemptSpan {
    const span = new ClientSpan(this, upstream, target, this.options.ids.spanId());
    this.attempts.push(span);
    return span;
  }

  /** The finished request, as its log row has it, becomes its spans and goes to the exporter. */
  end(path: string, row: LogRow, outcome: TraceOutcome | undefined, waitUntil: (promise: Promise<unknown>) => void): void {
    const endMs = row.ts + row.latency_ms;
    const answered = this.attempts.findLast((span) => span.record.errorType === undefined && span.record.endMs !== undefined)?.record;
    const content = this.options.payloads ? { prompt: this.prompt, answer: outcome?.responseBody } : undefined;
    const attributes = requestSpanAttributes(path, this.operation, row, answered, content);
    // A 4xx is the caller's mistake, not the server's failure (HTTP server span convention); a stream that broke
    // after its 200 is a failure.
    const failed = row.status >= 500 || (row.status < 400 && row.error_code !== null);
    const spans = [this.encode(`POST ${path}`, SPAN_KIND_SERVER, this.parentSpanId, this.spanId, row.ts, endMs, attributes, failed ? row.error_code ?? String(row.status) : undefined)];
    for (const { record } of this.attempts) {
      const name = `${record.operation} ${record.target.upstreamModel}`;
      spans.push(this.encode(name, SPAN_KIND_CLIENT, this.spanId, record.spanId, record.startMs, record.endMs ?? endMs, attemptAttributes(record), record.errorMessage ?? record.errorType));
    }
    this.options.exporter.enqueue(spans, waitUntil);
  }

  private encode(name: string, kind: number, parentSpanId: string | undefined, spanId: string, startMs: number, endMs: number, attributes: KeyValue[], error: string | undefined): OtlpSpan {
    const span: OtlpSpan = {
      traceId: this.traceId,
      spanId,
      flags: spanFlags(this.flags, kind === SPAN_KIND_SERVER && parentSpanId !== undefined),
      name,
      kind,
      startTimeUnixNano: unixNanos(startMs),
      endTimeUnixNano: unixNanos(endMs),
      attributes,
      status: error === undefined ? { code: STATUS_UNSET } : { code: STATUS_ERROR, message: error },
    };
    if (parentSpanId !== undefined) span.parentSpanId = parentSpanId;
    if (this.traceState !== undefined) span.traceState = this.traceState;
    return span;
  }
}

/**
 * The request's span when traces are exported — continuing the caller's trace when it sent a valid `traceparent` —
 * or null: no exporter (one lookup, nothing built), or a caller whose trace is not sampled (parent-based sampling,
 * as OpenTelemetry SDKs do by default). Content follows LOG_PAYLOADS, the request log's own switch.
 */
export function beginRequestSpan(settings: Settings, headers: Headers, ids: IdSource = randomIds, now: () => number = Date.now): RequestSpan | null {
  const exporter = exporterFor(settings);
  if (exporter === null) return null;
  const parent = parseTraceparent(headers.get("traceparent"), headers.get("tracestate"));
  if (parent !== null && !isSampled(parent)) return null;
  return new RequestSpan({ exporter, ids, now, payloads: settings.LOG_PAYLOADS }, parent);
}
