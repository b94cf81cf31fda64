/** Request logs (batched, filtered, paginated, retained), Prometheus metrics, and the summary behind the charts. */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import worker from "../../src/index";
import { parseStrict } from "../support/prometheus-strict";
import { ADMIN, LLAMA, admin, configure, eventually, gateway, origin, postJson, virtualKey } from "./helpers";

interface LogBody {
  logs: Record<string, unknown>[];
  total: number;
}

const logs = async (query = ""): Promise<LogBody> => (await (await admin("GET", `/api/logs${query}`)).json()) as LogBody;
let key = "";

beforeAll(async () => {
  await configure({ vllm: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin("default") } }] } });
  expect((await admin("POST", "/api/governance/pricing-overrides", { scope_kind: "global", match_type: "wildcard", pattern: "*", input_price_per_million: 1, output_price_per_million: 2 })).status).toBe(200);
  key = await virtualKey("logged-key", { provider_configs: [{ provider: "vllm" }] });
  await postJson("/v1/chat/completions", { model: `vllm/${LLAMA}`, messages: [{ role: "user", content: "log me" }] }, { "x-bf-vk": key, "x-request-id": "log-plain" });
  const streamed = await postJson("/v1/chat/completions", { model: `vllm/${LLAMA}`, stream: true, messages: [{ role: "user", content: "stream me" }] }, { "x-bf-vk": key, "x-request-id": "log-stream" });
  await streamed.text();
  await postJson("/openai/v1/chat/completions", { model: "vllm/not-served", messages: [] }, { "x-request-id": "log-error" });
  await postJson("/v1/chat/completions", "{broken", { "x-request-id": "log-bad-json" });
  // vLLM sends an error frame after content, then [DONE]: a failure all the same.
  const broken = await postJson("/v1/chat/completions", { model: "vllm/mid-stream-error", stream: true, messages: [{ role: "user", content: "break" }] }, { "x-request-id": "log-error-frame" });
  await broken.text();
  await eventually(() => logs(), (body) => body.total >= 5, 5000);
});

describe("request logs", () => {
  it("records each request once, off the request path, with routing, usage, cost and timing", async () => {
    const { logs: rows } = await logs();
    const plain = rows.find((row) => row.request_id === "log-plain");
    expect(plain).toMatchObject({
      virtual_key_name: "logged-key",
      provider: "vllm",
      provider_key: "local",
      model: `vllm/${LLAMA}`,
      endpoint: "chat/completions",
      stream: false,
      status: 200,
      attempts: 1,
      fallback_index: 0,
      request_body: null,
      response_body: null,
    });
    expect(Number(plain?.prompt_tokens)).toBeGreaterThan(0);
    expect(Number(plain?.cost)).toBeGreaterThan(0);
    const stream = rows.find((row) => row.request_id === "log-stream");
    expect(stream).toMatchObject({ stream: true, status: 200 });
    expect(Number(stream?.ttft_ms)).toBeGreaterThanOrEqual(0);
    expect(Number(stream?.completion_tokens)).toBeGreaterThan(0);
    expect(rows.find((row) => row.request_id === "log-error")).toMatchObject({ status: 404, error_code: "model_not_found", endpoint: "chat/completions" });
    expect(rows.find((row) => row.request_id === "log-bad-json")).toMatchObject({ status: 400, error_code: "invalid_json" });
    // The frame's own code (vLLM's HTTP-style 500), on a stream that started with 200 and was still charged: with
    // no usage chunk, one token per streamed chunk (the role chunk and two words; the error frame is not one).
    const frame = rows.find((row) => row.request_id === "log-error-frame");
    expect(frame).toMatchObject({ stream: true, status: 200, error_code: "500" });
    expect(Number(frame?.completion_tokens)).toBe(3);
  });

  it("keeps every row even when clients reuse a request id: row ids are the server's", async () => {
    for (const content of ["first", "second"]) {
      const response = await postJson("/v1/chat/completions", { model: `vllm/${LLAMA}`, messages: [{ role: "user", content }] }, { "x-request-id": "log-reused" });
      expect(response.headers.get("x-request-id")).toBe("log-reused");
      await response.text();
    }
    const body = await eventually(() => logs("?request_id=log-reused"), (found) => found.total === 2, 5000);
    expect(body.total).toBe(2);
    const [one, two] = body.logs;
    expect(one?.id).not.toBe(two?.id);
    // Time-ordered (UUID v7) ids carrying the row's start time, so log inserts append to the key's index.
    for (const row of [one, two]) {
      const id = String(row?.id);
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(row?.ts);
    }
  });

  it("names a request the client did not name with a time-ordered id", async () => {
    // A route that writes no log row, so the rows the other tests count stay theirs.
    const response = await gateway("/health");
    await response.text();
    expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("filters by key, model and status, and paginates", async () => {
    expect((await logs("?virtual_key=logged-key")).total).toBe(2);
    // Errors are the refused requests and the stream that carried an error frame after its 200.
    expect((await logs("?status=error")).logs.map((row) => row.request_id).sort()).toEqual(["log-bad-json", "log-error", "log-error-frame"]);
    expect((await logs("?status=success")).logs.map((row) => row.request_id).sort()).toEqual(["log-plain", "log-reused", "log-reused", "log-stream"]);
    expect((await logs(`?model=${encodeURIComponent(`vllm/${LLAMA}`)}`)).total).toBe(4);
    const page = await logs("?limit=1&offset=1");
    expect(page.logs).toHaveLength(1);
    expect(page.total).toBeGreaterThanOrEqual(4);
    expect((await admin("GET", "/api/logs?status=abc")).status).toBe(400);
    expect((await gateway("/api/logs")).status).toBe(401);
  });

  it("keys a row by the request id the gateway made for it, when the client sent none", async () => {
    const response = await postJson("/v1/chat/completions", { model: `vllm/${LLAMA}`, messages: [{ role: "user", content: "name me" }] });
    const requestId = String(response.headers.get("x-request-id"));
    expect(requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    await response.text();
    const body = await eventually(() => logs(`?request_id=${requestId}`), (found) => found.total === 1, 5000);
    expect(body.logs[0]).toMatchObject({ id: requestId, request_id: requestId, status: 200 });
  });

  it("finds a renamed key's requests by its new name, and refuses queries that cannot mean what they say", async () => {
    const before = (await logs("?virtual_key=logged-key")).total;
    expect((await admin("PUT", "/api/governance/virtual-keys/logged-key", { name: "logged-key-renamed" })).status).toBe(200);
    expect((await logs("?virtual_key=logged-key-renamed")).total).toBe(before);
    expect((await admin("PUT", "/api/governance/virtual-keys/logged-key", { name: "logged-key" })).status).toBe(200);
    for (const query of ["status=600", "status=099", "limit=1e2", "limit=0x10", "offset=-1", "from=2000&to=1000"]) {
      for (const path of ["/api/logs", "/api/logs/summary"]) {
        const refused = await admin("GET", `${path}?${query}`);
        expect(refused.status, `${path}?${query}`).toBe(400);
      }
    }
  });

  it("keeps request and response bodies only when LOG_PAYLOADS is on", async () => {
    const ctx = createExecutionContext();
    const response = await buildApp().fetch(
      new Request("http://gateway.test/v1/chat/completions", { method: "POST", headers: { "x-request-id": "log-payload" }, body: JSON.stringify({ model: `vllm/${LLAMA}`, messages: [{ role: "user", content: "remember me" }] }) }),
      { ...env, LOG_PAYLOADS: "true" },
      ctx,
    );
    await response.text();
    await waitOnExecutionContext(ctx);
    const row = (await eventually(() => logs(), (body) => body.logs.some((r) => r.request_id === "log-payload"))).logs.find((r) => r.request_id === "log-payload");
    expect(String(row?.request_body)).toContain("remember me");
    expect(String(row?.response_body)).toContain("You said: remember me");
  });

  it("deletes rows older than the retention period on the scheduled run", async () => {
    const old = Date.now() - 40 * 86_400_000;
    await env.DB.prepare(
      "INSERT INTO request_logs (id, ts, endpoint, stream, status, prompt_tokens, completion_tokens, cost, latency_ms, attempts, fallback_index) VALUES ('ancient', ?1, 'chat/completions', 0, 200, 0, 0, 0, 1, 1, 0)",
    )
      .bind(old)
      .run();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: new Date("2026-11-21T10:17:00Z") }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM request_logs WHERE id = 'ancient'").first<number>("n"))).toBe(0);
    expect((await logs()).total).toBeGreaterThan(0);
  });

  it("summarises requests, tokens, cost and latency per time bucket", async () => {
    const body = (await (await admin("GET", "/api/logs/summary?bucket_seconds=60")).json()) as { buckets: { requests: number; cost: number; avg_latency_ms: number }[] };
    expect(body.buckets.reduce((sum, b) => sum + b.requests, 0)).toBeGreaterThanOrEqual(4);
    expect(body.buckets.some((b) => b.cost > 0)).toBe(true);
  });
});

describe("Prometheus metrics", () => {
  it("exposes Bifrost's metric names with provider, model and virtual_key labels, for admins only", async () => {
    expect((await gateway("/metrics")).status).toBe(401);
    const text = await (await gateway("/metrics", { headers: ADMIN })).text();
    const labels = `provider="vllm",model="vllm/${LLAMA}",virtual_key="logged-key"`;
    expect(text).toContain("# TYPE bifrost_upstream_requests_total counter");
    expect(text).toMatch(new RegExp(`bifrost_upstream_requests_total\\{${labels.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}\\} 2`));
    // A model no configuration names and the origin refused is not a series of its own.
    expect(text).toContain(`bifrost_error_requests_total{provider="vllm",model="other",virtual_key="",status_code="404"} 1`);
    expect(text).not.toContain("not-served");
    expect(text).toContain(`bifrost_error_requests_total{provider="vllm",model="vllm/mid-stream-error",virtual_key="",status_code="stream_error"} 1`);
    expect(text).not.toContain(`bifrost_success_requests_total{provider="vllm",model="vllm/mid-stream-error"`);
    expect(text).toContain("# TYPE bifrost_upstream_latency_seconds histogram");
    expect(text).toContain(`bifrost_upstream_latency_seconds_bucket{${labels},le="+Inf"} 2`);
    expect(text).toContain(`bifrost_stream_first_token_latency_seconds_count{${labels}} 1`);
    expect(text).toMatch(/bifrost_cost_total\{[^}]*virtual_key="logged-key"\} [0-9.e-]+/);
  });

  it("parses strictly and has the series the unified-gateway tutorial queries, by provider", async () => {
    const text = await (await gateway("/metrics", { headers: ADMIN })).text();
    const families = parseStrict(text);
    expect(families.get("bifrost_requests_total")?.type).toBe("counter");
    expect(families.get("bifrost_request_duration_seconds")?.type).toBe("gauge");
    expect(families.get("bifrost_cost_total")?.type).toBe("counter");
    const series = (name: string, labels: Record<string, string>) => families.get(name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    const keyed = { provider: "vllm", model: `vllm/${LLAMA}`, virtual_key: "logged-key" };
    // sum by (provider) (rate(bifrost_requests_total[5m])) (the tutorial writes it without the sum, which PromQL refuses); sum(rate(bifrost_requests_total{provider=~"vllm.*|ollama.*"}[5m]))
    expect(series("bifrost_requests_total", keyed)?.value).toBe(2);
    expect(families.get("bifrost_requests_total")?.samples.some((s) => /^(vllm.*|ollama.*)$/.test(s.labels.provider ?? ""))).toBe(true);
    // The key's two requests, as logged: the metrics must say what the rows say.
    const rows = (await logs("?virtual_key=logged-key")).logs;
    expect(rows).toHaveLength(2);
    const sum = (column: string) => rows.reduce((total, row) => total + Number(row[column]), 0);
    // avg(bifrost_request_duration_seconds) by (provider): the mean of the two latencies, in seconds.
    expect(series("bifrost_request_duration_seconds", keyed)?.value).toBeCloseTo(sum("latency_ms") / 2 / 1000, 9);
    // sum(bifrost_cost_total) by (provider)
    // At $1 / $2 per 1M prompt / completion tokens.
    expect(sum("cost")).toBeCloseTo((sum("prompt_tokens") + 2 * sum("completion_tokens")) / 1e6, 12);
    expect(series("bifrost_cost_total", keyed)?.value).toBeCloseTo(sum("cost"), 12);
    // Requests that never reached an origin are gateway requests, not upstream ones.
    expect(series("bifrost_requests_total", { provider: "", model: "other" })?.value).toBeGreaterThanOrEqual(1);
    expect(series("bifrost_upstream_requests_total", { provider: "" })).toBeUndefined();
    expect(series("bifrost_upstream_latency_seconds_count", { provider: "" })).toBeUndefined();
  });

});
