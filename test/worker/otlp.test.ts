/**
 * OpenTelemetry trace export against a real OTLP/HTTP collector stand-in (test/support/otlp-collector.ts): the
 * request's SERVER span and a CLIENT span per origin attempt with the GenAI attributes, the caller's trace continued
 * and handed to the origin, and a collector that is down or hung changing nothing about the answer.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { buildApp } from "../../src/app";
import type { AnyValue, KeyValue, OtlpSpan } from "../../src/telemetry/otlp-encode";
import { LLAMA, configure, errorOf, origin, received, sseData } from "./helpers";

interface Export {
  path: string;
  headers: Record<string, string>;
  body: { resourceSpans: { resource: { attributes: KeyValue[] }; scopeSpans: { scope: { name: string }; spans: OtlpSpan[] }[] }[] };
}

/** What the fake vLLM answers to "hi": its id, model, finish reason and usage, on server and client spans alike. */
const ANSWER = {
  "gen_ai.response.id": "chatcmpl-fake",
  "gen_ai.response.model": LLAMA,
  "gen_ai.response.finish_reasons": ["stop"],
  "gen_ai.usage.input_tokens": 8,
  "gen_ai.usage.output_tokens": 3,
};
const PARAMETERS = { "gen_ai.request.max_tokens": 16, "gen_ai.request.temperature": 0.5, "gen_ai.request.top_p": 0.9 };

const SERVER = 2;
const CLIENT = 3;
const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;

beforeAll(async () => {
  await configure({
    vllm: { keys: [{ name: "gpu-1", value: "", models: ["*"], vllm_key_config: { url: origin("default") } }] },
  });
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** The test environment exporting to the collector under `tenant`, with a short batching delay. */
function exporting(tenant: string, extra: Record<string, string> = {}) {
  return { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: `${env.OTLP_COLLECTOR_URL}/t/${tenant}`, OTEL_BSP_SCHEDULE_DELAY: "10", ...extra };
}

async function chat(settings: typeof env, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const requestId = crypto.randomUUID();
  const ctx = createExecutionContext();
  const request = new Request("http://gateway.test/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json", "x-request-id": requestId, ...headers },
    body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], ...body }),
  });
  const started = Date.now();
  const response = await buildApp().fetch(request, settings, ctx);
  const text = await response.text();
  const elapsedMs = Date.now() - started;
  return { requestId, ctx, status: response.status, text, elapsedMs, origin: (await received(requestId))[0] };
}

/** What the collector received for `tenant`, once it holds `spans` spans. */
async function collected(tenant: string, spans: number): Promise<Export[]> {
  const response = await fetch(`${env.OTLP_COLLECTOR_URL}/__received?tenant=${tenant}&spans=${spans}`);
  return (await response.json()) as Export[];
}

function spansOf(exports: Export[]): OtlpSpan[] {
  return exports.flatMap((received) => received.body.resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans)));
}

/** Attributes as plain values (ints as numbers), in the order they were sent. */
function attributes(span: OtlpSpan): Record<string, unknown> {
  const plain = (value: AnyValue): unknown => {
    if ("intValue" in value) return Number(value.intValue);
    if ("arrayValue" in value) return value.arrayValue.values.map(plain);
    return "stringValue" in value ? value.stringValue : "doubleValue" in value ? value.doubleValue : value.boolValue;
  };
  return Object.fromEntries(span.attributes.map(({ key, value }) => [key, plain(value)]));
}

function one<T>(items: T[], where: (item: T) => boolean): T {
  const found = items.filter(where);
  expect(found).toHaveLength(1);
  return found[0] as T;
}

describe("OTLP trace export", () => {
  it("sends a server span and a client span with the GenAI attributes, continuing the caller's trace", async () => {
    const caller = { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7" };
    const settings = exporting("json", { OTEL_EXPORTER_OTLP_HEADERS: "x-honeycomb-team=key%20one,x-tenant=a%3Db", OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=test" });
    const { requestId, status, origin: sent } = await chat(
      settings,
      { model: `vllm/${LLAMA}`, max_tokens: 16, temperature: 0.5, top_p: 0.9 },
      { traceparent: `00-${caller.traceId}-${caller.spanId}-01`, tracestate: "vendor=opaque" },
    );
    expect(status).toBe(200);

    const exports = await collected("json", 2);
    expect(exports[0]?.path).toBe("/t/json/v1/traces");
    expect(exports[0]?.headers["content-type"]).toBe("application/json");
    expect(exports[0]?.headers["x-honeycomb-team"]).toBe("key one");
    expect(exports[0]?.headers["x-tenant"]).toBe("a=b");
    expect(exports[0]?.body.resourceSpans[0]?.resource.attributes).toEqual([
      { key: "service.name", value: { stringValue: "vllm-edge-gateway" } },
      { key: "deployment.environment.name", value: { stringValue: "test" } },
    ]);
    expect(exports[0]?.body.resourceSpans[0]?.scopeSpans[0]?.scope).toEqual({ name: "vllm-edge-gateway" });

    const spans = spansOf(exports);
    expect(spans).toHaveLength(2);
    const server = one(spans, (span) => span.kind === SERVER);
    const client = one(spans, (span) => span.kind === CLIENT);
    // The caller's trace is continued: same trace id, the server span's parent is the caller's span.
    expect(server.traceId).toBe(caller.traceId);
    expect(server.parentSpanId).toBe(caller.spanId);
    expect(server.traceState).toBe("vendor=opaque");
    expect(server.flags).toBe(0x301); // sampled, parent known to be remote
    expect(server.spanId).toMatch(HEX16);
    expect(client.traceId).toBe(caller.traceId);
    expect(client.parentSpanId).toBe(server.spanId);
    expect(client.flags).toBe(0x101);
    expect(client.spanId).toMatch(HEX16);
    expect(client.spanId).not.toBe(server.spanId);
    // The origin got a traceparent naming the client span, and the caller's tracestate.
    expect(sent?.headers.traceparent).toBe(`00-${caller.traceId}-${client.spanId}-01`);
    expect(sent?.headers.tracestate).toBe("vendor=opaque");

    expect(server.name).toBe("POST /v1/chat/completions");
    expect(server.status).toEqual({ code: 0 });
    expect(attributes(server)).toEqual({
      "http.request.method": "POST",
      "url.path": "/v1/chat/completions",
      "http.route": "/v1/chat/completions",
      "http.response.status_code": 200,
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "vllm",
      "gen_ai.request.model": `vllm/${LLAMA}`,
      ...PARAMETERS,
      ...ANSWER,
      "gen_ai.usage.cost": 0,
      "bifrost.request.id": requestId,
      "bifrost.selected_key.name": "gpu-1",
      "bifrost.attempts": 1,
      "bifrost.fallback_index": 0,
      "bifrost.cache_hit": false,
      "bifrost.stream": false,
    });
    // Integers travel as decimal strings and the cost as a double, whatever its value.
    expect(server.attributes.find((attribute) => attribute.key === "gen_ai.usage.input_tokens")?.value).toEqual({ intValue: "8" });
    expect(server.attributes.find((attribute) => attribute.key === "gen_ai.usage.cost")?.value).toEqual({ doubleValue: 0 });

    expect(client.name).toBe(`chat ${LLAMA}`);
    expect(client.status).toEqual({ code: 0 });
    const originHost = new URL(env.FAKE_VLLM_URL);
    expect(attributes(client)).toEqual({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "vllm",
      "gen_ai.request.model": LLAMA,
      ...PARAMETERS,
      ...ANSWER,
      "server.address": originHost.hostname,
      "server.port": Number(originHost.port),
      "http.request.method": "POST",
      "bifrost.selected_key.name": "gpu-1",
      "http.response.status_code": 200,
    });
    // The client span lies within the server span.
    expect(BigInt(client.startTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(server.startTimeUnixNano));
    expect(BigInt(client.endTimeUnixNano)).toBeLessThanOrEqual(BigInt(server.endTimeUnixNano));
  });

  it("starts a new trace when the caller sends none, and records a stream's usage and finish reasons at its end", async () => {
    const { status, text, origin: sent } = await chat(exporting("stream"), { model: `vllm/${LLAMA}`, stream: true, stream_options: { include_usage: true } });
    expect(status).toBe(200);
    expect(sseData(text).at(-1)).toBe("[DONE]");
    const spans = spansOf(await collected("stream", 2));
    const server = one(spans, (span) => span.kind === SERVER);
    const client = one(spans, (span) => span.kind === CLIENT);
    expect(server.traceId).toMatch(HEX32);
    expect(server.parentSpanId).toBeUndefined();
    expect(server.flags).toBe(0x101);
    expect(client.parentSpanId).toBe(server.spanId);
    expect(sent?.headers.traceparent).toBe(`00-${server.traceId}-${client.spanId}-01`);
    expect(sent?.headers.tracestate).toBeUndefined();
    for (const span of [server, client]) expect(attributes(span)).toMatchObject(ANSWER);
    expect(attributes(server)["bifrost.stream"]).toBe(true);
  });

  it("records a failed attempt and the fallback that answered: two client spans, the first an error", async () => {
    const { status } = await chat(exporting("fallback"), { model: "vllm/server-error", fallbacks: [`vllm/${LLAMA}`] });
    expect(status).toBe(200);
    const spans = spansOf(await collected("fallback", 3));
    expect(spans).toHaveLength(3);
    const server = one(spans, (span) => span.kind === SERVER);
    const clients = spans.filter((span) => span.kind === CLIENT).sort((a, b) => Number(BigInt(a.startTimeUnixNano) - BigInt(b.startTimeUnixNano)));
    expect(clients.map((span) => span.parentSpanId)).toEqual([server.spanId, server.spanId]);
    const [failed, answered] = clients;
    expect(failed?.name).toBe("chat server-error");
    expect(failed?.status).toEqual({ code: 2, message: "Internal server error" });
    expect(attributes(failed as OtlpSpan)).toMatchObject({ "gen_ai.request.model": "server-error", "http.response.status_code": 500, "error.type": "upstream_error" });
    expect(attributes(failed as OtlpSpan)["gen_ai.usage.input_tokens"]).toBeUndefined();
    expect(answered?.name).toBe(`chat ${LLAMA}`);
    expect(answered?.status).toEqual({ code: 0 });
    expect(attributes(answered as OtlpSpan)["error.type"]).toBeUndefined();
    expect(server.status).toEqual({ code: 0 });
    expect(attributes(server)).toMatchObject({ "gen_ai.request.model": `vllm/${LLAMA}`, "bifrost.fallback_index": 1, "bifrost.attempts": 2, "gen_ai.response.finish_reasons": ["stop"] });
  });

  it("marks the server span of a request the gateway answered with a 5xx as an error, naming the code", async () => {
    const { status, text } = await chat(exporting("failure"), { model: "vllm/server-error" });
    expect(status).toBe(500);
    expect(JSON.parse(text)).toMatchObject({ error: { code: "upstream_error" } });
    const spans = spansOf(await collected("failure", 2));
    const server = one(spans, (span) => span.kind === SERVER);
    expect(server.status).toEqual({ code: 2, message: "upstream_error" });
    expect(attributes(server)).toMatchObject({ "http.response.status_code": 500, "error.type": "upstream_error", "bifrost.attempts": 1 });
  });

  it("keeps prompts and completions out unless LOG_PAYLOADS is true, then records them as GenAI messages", async () => {
    await chat(exporting("no-payloads"), { model: `vllm/${LLAMA}` });
    const plain = one(spansOf(await collected("no-payloads", 2)), (span) => span.kind === SERVER);
    expect(attributes(plain)["gen_ai.input.messages"]).toBeUndefined();
    expect(attributes(plain)["gen_ai.output.messages"]).toBeUndefined();

    await chat(exporting("payloads", { LOG_PAYLOADS: "true" }), { model: `vllm/${LLAMA}`, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "hi" }] });
    const server = one(spansOf(await collected("payloads", 2)), (span) => span.kind === SERVER);
    expect(JSON.parse(String(attributes(server)["gen_ai.input.messages"]))).toEqual([
      { role: "system", parts: [{ type: "text", content: "Be brief." }] },
      { role: "user", parts: [{ type: "text", content: "hi" }] },
    ]);
    expect(JSON.parse(String(attributes(server)["gen_ai.output.messages"]))).toEqual([{ role: "assistant", parts: [{ type: "text", content: "You said: hi" }], finish_reason: "stop" }]);
  });

  it("records nothing for a caller whose trace is not sampled, and passes its traceparent on unchanged", async () => {
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    const { ctx, origin: sent } = await chat(exporting("unsampled"), { model: `vllm/${LLAMA}` }, { traceparent });
    await waitOnExecutionContext(ctx);
    expect(sent?.headers.traceparent).toBe(traceparent);
    const response = await fetch(`${env.OTLP_COLLECTOR_URL}/__received?tenant=unsampled&spans=1&wait_ms=0`);
    expect(await response.json()).toEqual([]);
  });
});

describe("without an exporter", () => {
  it("passes the caller's traceparent and tracestate to the origin unchanged, and sends none of its own", async () => {
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const continued = await chat(env, { model: `vllm/${LLAMA}` }, { traceparent, tracestate: "congo=t61rcWkgMzE" });
    expect(continued.origin?.headers.traceparent).toBe(traceparent);
    expect(continued.origin?.headers.tracestate).toBe("congo=t61rcWkgMzE");
    const untraced = await chat(env, { model: `vllm/${LLAMA}` });
    expect(untraced.origin?.headers.traceparent).toBeUndefined();
  });
});

describe("a collector that is down or hung", () => {
  for (const [name, endpoint] of [
    ["refusing connections", () => env.REFUSED_URL],
    ["never answering", () => `${env.OTLP_COLLECTOR_URL}/hung`],
  ] as const) {
    it(`changes nothing about the answer when it is ${name}, and its failure is logged once`, async () => {
      const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
      // A batch of two spans, one request's, is exported at once: every request makes one failed export.
      const settings = { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint(), OTEL_EXPORTER_OTLP_TIMEOUT: "300", OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "2" };
      const baseline = await chat(env, { model: `vllm/${LLAMA}` });
      const results = [];
      for (let i = 0; i < 3; i += 1) results.push(await chat(settings, { model: `vllm/${LLAMA}` }));
      for (const result of results) {
        expect(result.status).toBe(200);
        expect(JSON.parse(result.text)).toMatchObject({ choices: [{ message: { content: "You said: hi" } }] });
        // The answer does not wait for the export: well under the export timeout.
        expect(result.elapsedMs).toBeLessThan(baseline.elapsedMs + 250);
      }
      // Every export ends (refused, or given up at the timeout) without throwing into the invocation.
      const waited = Date.now();
      await Promise.all(results.map((result) => waitOnExecutionContext(result.ctx)));
      expect(Date.now() - waited).toBeLessThan(3000);
      const failures = errors.mock.calls.map(([line]) => String(line)).filter((line) => line.includes("otlp_export_failed"));
      expect(failures).toHaveLength(1);
      expect(JSON.parse(failures[0] ?? "{}")).toMatchObject({ event: "otlp_export_failed", url: `${endpoint()}/v1/traces`, failed_exports: 1, spans_lost: 2, spans_dropped: 0 });
    });
  }
});

describe("OTLP settings", () => {
  it("answer 500 naming a malformed exporter variable instead of exporting somewhere else", async () => {
    const response = await buildApp().fetch(new Request("http://gateway.test/health"), {
      ...env,
      OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318",
      OTEL_EXPORTER_OTLP_HEADERS: "api-key",
      OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
    });
    expect(response.status).toBe(500);
    expect((await errorOf(response)).message).toBe(
      'the gateway is misconfigured: OTEL_EXPORTER_OTLP_ENDPOINT must be an http or https URL, not "collector:4318"; ' +
        'OTEL_EXPORTER_OTLP_HEADERS must be a list of key=value pairs separated by commas (percent-encoded), not "api-key"; ' +
        'OTEL_EXPORTER_OTLP_PROTOCOL must be "http/json" (the only protocol the gateway sends), not "grpc"',
    );
  });
});
