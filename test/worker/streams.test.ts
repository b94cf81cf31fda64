/** Stream faults: error frames, cut and truncated streams, idle origins, timeouts, dead origins, disconnects. */
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { admin, configure, errorOf, eventually, origin, postJson, quota, received, sseData, virtualKey } from "./helpers";

beforeAll(async () => {
  await configure({
    vllm: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin("default") } }], network_config: { stream_idle_timeout_in_seconds: 5 } },
    slow: { keys: [{ name: "slow", vllm_key_config: { url: origin("default") } }], network_config: { base_url: origin("default"), default_request_timeout_in_seconds: 1 }, custom_provider_config: { base_provider_type: "openai" } },
    dead: { keys: [{ name: "dead", value: "" }], network_config: { base_url: env.REFUSED_URL }, custom_provider_config: { base_provider_type: "openai" } },
  });
});

function stream(model: string, requestId = crypto.randomUUID()) {
  return postJson("/v1/chat/completions", { model, stream: true, messages: [{ role: "user", content: "go on" }] }, { "x-request-id": requestId });
}

describe("stream faults", () => {
  it("forwards a mid-stream error frame so SDKs raise it, and ends the stream there", async () => {
    const response = await stream("vllm/mid-stream-error");
    expect(response.status).toBe(200);
    const frames = sseData(await response.text());
    const error = frames.map((f) => (f === "[DONE]" ? {} : (JSON.parse(f) as { error?: { code: number } }))).find((f) => f.error);
    expect(error?.error?.code).toBe(500);
    // The origin sent [DONE] after it; the stream ends with the error frame instead, as no clean finish.
    expect(frames).not.toContain("[DONE]");
    expect(frames.at(-1)).toBe(JSON.stringify(error));
  });

  it("answers a stream that opens with an error frame with an HTTP error", async () => {
    const response = await stream("vllm/first-frame-error");
    expect(response.status).toBe(400);
    expect((await errorOf(response)).message).toContain("tool parser failed");
  });

  for (const model of ["vllm/cut-stream", "vllm/early-end"]) {
    it(`ends ${model} with an error event, not a clean [DONE]`, async () => {
      const response = await stream(model);
      expect(response.status).toBe(200);
      const frames = sseData(await response.text());
      expect(frames).not.toContain("[DONE]");
      const last = JSON.parse(frames.at(-1) ?? "{}") as { error?: { code: string } };
      expect(["stream_truncated", "stream_interrupted"]).toContain(last.error?.code);
    });
  }

  it("ends a stream with an error event at an event that is not JSON, and stops the origin", async () => {
    const requestId = crypto.randomUUID();
    const response = await stream("vllm/garbled-frame", requestId);
    expect(response.status).toBe(200);
    const frames = sseData(await response.text());
    // The two words before it, then the error in place of the broken event; nothing after it.
    expect(frames.length).toBe(4);
    expect(frames.at(-1)).toBe(JSON.stringify({ error: { message: "origin sent a stream event that is not JSON", type: "upstream_error", param: null, code: "invalid_upstream_response" } }));
    const seen = await eventually(() => received(requestId), (records) => records[0]?.closedEarly === true);
    expect(seen[0]?.closedEarly).toBe(true);
  });

  it("ends Messages and Responses streams with their failure events at an event that is not JSON", async () => {
    const messages = await postJson("/anthropic/v1/messages", { model: "vllm/garbled-frame", max_tokens: 50, stream: true, messages: [{ role: "user", content: "go on" }] });
    const dataLines = (text: string) => text.split("\n").filter((line) => line.startsWith("data: ")).map((line) => line.slice(6));
    const messageEvents = dataLines(await messages.text()).map((data) => JSON.parse(data) as { type: string; error?: { message: string } });
    expect(messageEvents.at(-1)).toEqual({ type: "error", error: { type: "api_error", message: "origin sent a stream event that is not JSON" } });
    expect(messageEvents.filter((event) => event.type === "message_stop")).toEqual([]);
    const responses = await postJson("/v1/responses", { model: "vllm/garbled-frame", input: "go on", stream: true });
    const last = JSON.parse(dataLines(await responses.text()).at(-1) ?? "{}") as { type: string; response: { status: string; error: { message: string } } };
    expect([last.type, last.response.status, last.response.error.message]).toEqual(["response.failed", "failed", "origin sent a stream event that is not JSON"]);
  });

  it("streams a completion the origin answered as whole JSON, settling the origin's usage against the key", async () => {
    const key = await virtualKey("json-anyway-key", { provider_configs: [{ provider: "vllm" }], rate_limit: { token_max_limit: 100_000, token_reset_duration: "1h" } });
    const response = await postJson("/v1/chat/completions", { model: "vllm/json-anyway", stream: true, messages: [{ role: "user", content: "go on" }] }, { "x-bf-vk": key });
    expect([response.status, response.headers.get("content-type")]).toEqual([200, "text/event-stream; charset=utf-8"]);
    const frames = sseData(await response.text());
    expect(frames.at(-1)).toBe("[DONE]");
    // One chunk with the whole message; the usage chunk the client did not ask for is left out.
    expect(frames.length).toBe(2);
    expect(JSON.parse(frames[0] ?? "{}")).toMatchObject({ object: "chat.completion.chunk", model: "vllm/json-anyway", choices: [{ index: 0, delta: { role: "assistant", content: "You said: go on" }, finish_reason: "stop" }] });
    // The fake counts a quarter token per character of the messages' JSON (35 → 9) and a token per word (4).
    expect((await quota(key)).rate_limits[0]?.tokens?.current_usage).toBe(13);
  });

  it("answers a stream whose first event is not JSON with a 502", async () => {
    const response = await stream("vllm/garbled-first");
    expect(response.status).toBe(502);
    expect(await errorOf(response)).toMatchObject({ code: "invalid_upstream_response", message: "origin for provider 'vllm' key 'local' origin sent a stream event that is not JSON" });
  });

  it("ends a silent origin's stream with an idle-timeout error event", async () => {
    const response = await stream("vllm/silent-stream");
    const frames = sseData(await response.text());
    const last = JSON.parse(frames.at(-1) ?? "{}") as { error?: { code: string } };
    expect(last.error?.code).toBe("stream_idle_timeout");
  }, 15_000);

  it("charges nothing for a stream that timed out before it delivered any event", async () => {
    const key = await virtualKey("silent-key", { provider_configs: [{ provider: "vllm" }], rate_limit: { token_max_limit: 100_000, token_reset_duration: "1h" } });
    // A text completion's stream has no role chunk: the silent origin sends nothing before the idle timeout.
    const response = await postJson("/v1/completions", { model: "vllm/silent-stream", stream: true, prompt: "go on" }, { "x-bf-vk": key });
    expect(response.status).toBe(200);
    const frames = sseData(await response.text());
    expect(frames).toHaveLength(1);
    expect((JSON.parse(frames[0] ?? "{}") as { error?: { code: string } }).error?.code).toBe("stream_idle_timeout");
    expect((await quota(key)).rate_limits[0]?.tokens).toMatchObject({ current_usage: 0, reserved: 0 });
  }, 15_000);

  it("starts the response and sends keep-alive comments while the origin is silent before its first token", async () => {
    const started = Date.now();
    const response = await stream("vllm/slow-first-token");
    expect(Date.now() - started).toBeLessThan(2000); // the response began before the first token
    const text = await response.text();
    expect(text.startsWith(": keep-alive\n\n")).toBe(true);
    expect(sseData(text).at(-1)).toBe("[DONE]");
  });

  it("aborts the origin request when the client disconnects mid-stream", async () => {
    const requestId = crypto.randomUUID();
    const response = await stream("vllm/slow-stream", requestId);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await reader.cancel();
    let seen = await received(requestId);
    for (let i = 0; i < 40 && !seen[0]?.closedEarly; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      seen = await received(requestId);
    }
    expect(seen[0]?.closedEarly).toBe(true);
    // Logged as the client's leaving, not as a finished answer, and counted apart from the origin's errors.
    const logs = async () => ((await (await admin("GET", `/api/logs?request_id=${requestId}`)).json()) as { logs: Record<string, unknown>[] }).logs;
    const [row] = await eventually(logs, (rows) => rows.length === 1);
    expect(row).toMatchObject({ status: 200, stream: true, error_code: "client_closed_request" });
    const metrics = await (await admin("GET", "/metrics")).text();
    expect(metrics).toContain('bifrost_error_requests_total{provider="vllm",model="vllm/slow-stream",virtual_key="",status_code="499"} 1');
  });
});

describe("client disconnects without streaming", () => {
  it("aborts the origin request when the client goes away while waiting for a JSON answer", async () => {
    const requestId = crypto.randomUUID();
    const controller = new AbortController();
    const pending = exports.default
      .fetch(new Request("http://gateway.test/v1/chat/completions", { method: "POST", signal: controller.signal, headers: { "x-request-id": requestId }, body: JSON.stringify({ model: "vllm/slow-headers", messages: [] }) }))
      .catch(() => undefined);
    await eventually(() => received(requestId), (log) => log.length === 1);
    controller.abort();
    await pending;
    const seen = await eventually(() => received(requestId), (log) => log[0]?.closedEarly === true);
    expect(seen[0]?.closedEarly).toBe(true);
  });
});

describe("origin failures", () => {
  it("answers 502 when the origin refuses connections", async () => {
    const response = await postJson("/v1/chat/completions", { model: "dead/any", messages: [] });
    expect(response.status).toBe(502);
    expect((await errorOf(response)).code).toBe("upstream_unreachable");
  });

  it("answers 504 when the origin does not answer within the configured timeout", async () => {
    const started = Date.now();
    const response = await postJson("/v1/chat/completions", { model: "slow/slow-headers", messages: [] });
    expect(response.status).toBe(504);
    expect((await errorOf(response)).code).toBe("request_timed_out");
    expect(Date.now() - started).toBeLessThan(2500);
  });
});
