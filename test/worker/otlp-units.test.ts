/**
 * The pieces of trace export on their own: W3C traceparent parsing, OpenTelemetry's key=value lists, reading an
 * answer's id, model and finish reasons from bytes split anywhere, the exact OTLP/JSON of a request with injected ids
 * and clock, and the exporter's bounded buffer and batches.
 */
import { describe, expect, it } from "vitest";
import type { LogRow } from "../../src/observability/log-row";
import type { UpstreamPlan } from "../../src/pipeline/plan";
import type { Target } from "../../src/routing/resolve";
import { AnswerScan } from "../../src/telemetry/answer-scan";
import { SpanExporter, type ExporterConfig } from "../../src/telemetry/exporter";
import type { IdSource } from "../../src/telemetry/ids";
import { parseKeyValueList } from "../../src/telemetry/key-value-list";
import type { OtlpSpan } from "../../src/telemetry/otlp-encode";
import { RequestSpan } from "../../src/telemetry/spans";
import { parseTraceparent } from "../../src/telemetry/traceparent";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

describe("traceparent", () => {
  it("continues a valid header and its tracestate", () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01`, " rojo=00f067aa0ba902b7 ")).toEqual({ traceId: TRACE, spanId: SPAN, flags: "01", traceState: "rojo=00f067aa0ba902b7" });
    // A later version may add fields; a version-00 reader takes the four it knows.
    expect(parseTraceparent(`cc-${TRACE}-${SPAN}-00-extra`, null)).toEqual({ traceId: TRACE, spanId: SPAN, flags: "00", traceState: undefined });
  });

  it("starts a new trace for anything invalid", () => {
    for (const header of [null, "", `00-${TRACE}-${SPAN}`, `00-${TRACE.toUpperCase()}-${SPAN}-01`, `ff-${TRACE}-${SPAN}-01`, `00-${TRACE}-${SPAN}-01-extra`, `00-${"0".repeat(32)}-${SPAN}-01`, `00-${TRACE}-${"0".repeat(16)}-01`]) {
      expect(parseTraceparent(header, null), String(header)).toBeNull();
    }
  });

  it("drops a tracestate longer than the specification asks anyone to keep", () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01`, `a=${"x".repeat(600)}`)?.traceState).toBeUndefined();
  });
});

describe("key=value lists", () => {
  it("percent-decode keys and values, skip empty entries, and let a later key win", () => {
    expect(parseKeyValueList("Authorization=Basic%20dG9rZW4%3D, x-team = a , ,x-team=b")).toEqual({ Authorization: "Basic dG9rZW4=", "x-team": "b" });
    expect(parseKeyValueList("")).toEqual({});
  });

  it("refuse an entry without a key or an equals sign, and bad percent-encoding", () => {
    for (const raw of ["api-key", "=value", "a=%E0%A4%A", "a=b,c"]) expect(parseKeyValueList(raw), raw).toBeUndefined();
  });
});

describe("reading an answer as it passes", () => {
  const stream = [
    'data: {"id":"chatcmpl-7","object":"chat.completion.chunk","model":"served/model","choices":[{"index":0,"delta":{"content":"\\"finish_reason\\":\\"fake\\""},"finish_reason":null}]}\n\n',
    'data: {"id":"chatcmpl-7","model":"served/model","choices":[{"index":0,"delta":{},"finish_reason":"length"},{"index":1,"delta":{"tool_calls":[{"id":"call_1"}]},"finish_reason":"tool_calls"}]}\n\n',
    "data: [DONE]\n\n",
  ].join("");

  it("finds the first id and model and every finish reason, however the bytes are split", () => {
    const bytes = new TextEncoder().encode(stream);
    for (const size of [1, 2, 7, 64, bytes.length]) {
      const scan = new AnswerScan();
      for (let start = 0; start < bytes.length; start += size) scan.feed(bytes.subarray(start, start + size));
      expect(scan.facts, `chunks of ${size}`).toEqual({ id: "chatcmpl-7", model: "served/model", finishReasons: ["length", "tool_calls"] });
    }
  });
});

/** Ids that count up, so spans can be named exactly. */
function countingIds(): IdSource {
  let next = 0;
  const hex = (digits: number) => (next += 1).toString(16).padStart(digits, "0");
  return { traceId: () => hex(32), spanId: () => hex(16) };
}

function exporterConfig(extra: Partial<ExporterConfig> = {}): ExporterConfig {
  return { url: "http://collector.test/v1/traces", headers: { "x-api-key": "k" }, timeoutMs: 1000, resource: [], scheduleDelayMs: 5, maxQueueSize: 100, maxBatchSize: 100, ...extra };
}

function capture() {
  const sent: { url: string; init: RequestInit; spans: OtlpSpan[] }[] = [];
  const send = async (url: string, init: RequestInit) => {
    const body = JSON.parse(String(init.body)) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
    sent.push({ url, init, spans: body.resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans)) });
    return new Response("{}");
  };
  return { sent, send };
}

/** The answering attempt's parameters and response, on both spans. */
const ANSWERED = [
  { key: "gen_ai.request.max_tokens", value: { intValue: "8" } },
  { key: "gen_ai.response.id", value: { stringValue: "cmpl-1" } },
  { key: "gen_ai.response.model", value: { stringValue: "m" } },
  { key: "gen_ai.response.finish_reasons", value: { arrayValue: { values: [{ stringValue: "stop" }] } } },
];
const USAGE = [
  { key: "gen_ai.usage.input_tokens", value: { intValue: "5" } },
  { key: "gen_ai.usage.output_tokens", value: { intValue: "2" } },
];

const row: LogRow = {
  id: "row",
  request_id: "req-1",
  ts: 1_700_000_000_000,
  virtual_key_id: "vk-1",
  virtual_key_name: "team-a",
  provider: "vllm",
  provider_key: "gpu-1",
  origin: "gpu.internal:8000",
  model: "vllm/m",
  endpoint: "chat/completions",
  stream: false,
  status: 200,
  error_code: null,
  prompt_tokens: 5,
  completion_tokens: 2,
  cost: 0.25,
  latency_ms: 40,
  ttft_ms: null,
  attempts: 1,
  fallback_index: 0,
  cache_hit: false,
  request_body: null,
  response_body: null,
  metric_model: "vllm/m",
};

describe("a request's spans", () => {
  it("encode exactly, with injected ids and clock", async () => {
    const { sent, send } = capture();
    const exporter = new SpanExporter(exporterConfig(), send);
    let clock = row.ts + 10;
    const span = new RequestSpan({ exporter, ids: countingIds(), now: () => clock, payloads: false }, { traceId: TRACE, spanId: SPAN, flags: "01", traceState: "k=v" });
    const target = { provider: { name: "vllm" }, key: { name: "gpu-1", originHost: "gpu.internal:8000" }, upstreamModel: "m" } as unknown as Target;
    const upstream = { kind: "json", pathKey: "chat_completion", body: { model: "m", max_tokens: 8 } } as unknown as UpstreamPlan;
    const attempt = span.attempt(target, upstream);
    expect(attempt.traceparent).toBe(`00-${TRACE}-0000000000000002-01`);
    const answer = attempt.answered?.(new Response('{"id":"cmpl-1","model":"m","choices":[{"finish_reason":"stop"}]}')) as Response;
    await answer.text();
    clock += 20;
    attempt.succeeded({ promptTokens: 5, completionTokens: 2, estimated: false });
    const waits: Promise<unknown>[] = [];
    span.end("/v1/chat/completions", row, undefined, (promise) => waits.push(promise));
    await Promise.all(waits);

    expect(sent).toHaveLength(1);
    expect(sent[0]?.url).toBe("http://collector.test/v1/traces");
    expect(sent[0]?.init.headers).toEqual({ "x-api-key": "k", "content-type": "application/json" });
    expect(sent[0]?.spans).toEqual([
      {
        traceId: TRACE,
        spanId: "0000000000000001",
        parentSpanId: SPAN,
        traceState: "k=v",
        flags: 0x301,
        name: "POST /v1/chat/completions",
        kind: 2,
        startTimeUnixNano: "1700000000000000000",
        endTimeUnixNano: "1700000000040000000",
        attributes: [
          { key: "http.request.method", value: { stringValue: "POST" } },
          { key: "url.path", value: { stringValue: "/v1/chat/completions" } },
          { key: "http.route", value: { stringValue: "/v1/chat/completions" } },
          { key: "http.response.status_code", value: { intValue: "200" } },
          { key: "gen_ai.provider.name", value: { stringValue: "vllm" } },
          { key: "gen_ai.request.model", value: { stringValue: "vllm/m" } },
          ...ANSWERED,
          ...USAGE,
          { key: "gen_ai.usage.cost", value: { doubleValue: 0.25 } },
          { key: "bifrost.request.id", value: { stringValue: "req-1" } },
          { key: "bifrost.virtual_key.id", value: { stringValue: "vk-1" } },
          { key: "bifrost.virtual_key.name", value: { stringValue: "team-a" } },
          { key: "bifrost.selected_key.name", value: { stringValue: "gpu-1" } },
          { key: "bifrost.attempts", value: { intValue: "1" } },
          { key: "bifrost.fallback_index", value: { intValue: "0" } },
          { key: "bifrost.cache_hit", value: { boolValue: false } },
          { key: "bifrost.stream", value: { boolValue: false } },
        ],
        status: { code: 0 },
      },
      {
        traceId: TRACE,
        spanId: "0000000000000002",
        parentSpanId: "0000000000000001",
        traceState: "k=v",
        flags: 0x101,
        name: "chat m",
        kind: 3,
        startTimeUnixNano: "1700000000010000000",
        endTimeUnixNano: "1700000000030000000",
        attributes: [
          { key: "gen_ai.operation.name", value: { stringValue: "chat" } },
          { key: "gen_ai.provider.name", value: { stringValue: "vllm" } },
          { key: "gen_ai.request.model", value: { stringValue: "m" } },
          ...ANSWERED,
          { key: "server.address", value: { stringValue: "gpu.internal" } },
          { key: "server.port", value: { intValue: "8000" } },
          { key: "http.request.method", value: { stringValue: "POST" } },
          { key: "bifrost.selected_key.name", value: { stringValue: "gpu-1" } },
          ...USAGE,
          { key: "http.response.status_code", value: { intValue: "200" } },
        ],
        status: { code: 0 },
      },
    ]);
  });
});

describe("the exporter", () => {
  const spanNamed = (name: string) => ({ name }) as unknown as OtlpSpan;

  it("drops the oldest spans past its queue size and sends full batches at once", async () => {
    const { sent, send } = capture();
    const exporter = new SpanExporter(exporterConfig({ maxQueueSize: 3, maxBatchSize: 2, scheduleDelayMs: 60_000 }), send);
    const waits: Promise<unknown>[] = [];
    const waitUntil = (promise: Promise<unknown>) => waits.push(promise);
    exporter.enqueue([spanNamed("a")], waitUntil);
    exporter.enqueue([spanNamed("b"), spanNamed("c"), spanNamed("d"), spanNamed("e")], waitUntil);
    // "a" and "b" were dropped for the queue bound; the full buffer went at once, a batch of two and one of one.
    await waits[1];
    expect(sent.map((request) => request.spans.map((span) => span.name))).toEqual([["c", "d"], ["e"]]);
  });

  it("never rejects, and reports failures once a minute with what was lost", async () => {
    const logged: string[] = [];
    const original = console.error;
    console.error = (line: unknown) => void logged.push(String(line));
    try {
      let clock = 0;
      const exporter = new SpanExporter(exporterConfig({ maxBatchSize: 1 }), async () => new Response("busy", { status: 503 }), () => clock);
      const waits: Promise<unknown>[] = [];
      for (const name of ["a", "b"]) exporter.enqueue([spanNamed(name)], (promise) => waits.push(promise));
      await Promise.all(waits);
      clock = 60_000;
      exporter.enqueue([spanNamed("c")], (promise) => waits.push(promise));
      await Promise.all(waits);
      expect(logged.map((line) => JSON.parse(line) as unknown)).toEqual([
        { event: "otlp_export_failed", url: "http://collector.test/v1/traces", reason: "HTTP 503", failed_exports: 1, spans_lost: 1, spans_dropped: 0 },
        { event: "otlp_export_failed", url: "http://collector.test/v1/traces", reason: "HTTP 503", failed_exports: 2, spans_lost: 2, spans_dropped: 0 },
      ]);
    } finally {
      console.error = original;
    }
  });
});
