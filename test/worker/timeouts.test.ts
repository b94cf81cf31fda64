/**
 * Two clocks on the origin leg: first_byte_timeout_in_seconds (until the origin starts its answer) and the request
 * timeout (the whole answer); and the circuit breaker counts only failures that are the origin's own.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { configure, errorOf, origin, postJson, received, sseData } from "./helpers";

/** A cool-down far longer than the test, so nothing depends on how fast the machine is. */
const settings = { ...env, CIRCUIT_COOLDOWN_SECONDS: "60", CIRCUIT_FAILURE_THRESHOLD: "2" };

beforeAll(async () => {
  await configure({
    quick: {
      keys: [{ name: "gpu", models: ["*"], value: "" }],
      network_config: { base_url: origin("quick"), first_byte_timeout_in_seconds: 1, default_request_timeout_in_seconds: 30 },
      custom_provider_config: { base_provider_type: "openai" },
    },
    // Both clocks short, and JSON asked as JSON: the whole-answer clock runs on after the headers.
    tight: {
      keys: [{ name: "gpu", models: ["*"], value: "" }],
      network_config: { base_url: origin("tight"), first_byte_timeout_in_seconds: 1, default_request_timeout_in_seconds: 2, stream_for_json: false },
      custom_provider_config: { base_provider_type: "openai" },
    },
    // The fake origin "auth" wants a bearer token the first key does not have; the standby key (weight 0) is tried
    // first only when the first one's circuit is open.
    locked: {
      keys: [
        { name: "wrong-token", models: ["*"], value: "not-the-token" },
        { name: "standby", models: ["*"], value: "", weight: 0, vllm_key_config: { url: origin("standby") } },
      ],
      network_config: { base_url: origin("auth") },
      custom_provider_config: { base_provider_type: "openai" },
    },
  });
});

async function ask(model: string, extra: Record<string, unknown> = {}): Promise<{ status: number; body: string; origins: string[] }> {
  const requestId = crypto.randomUUID();
  const ctx = createExecutionContext();
  const request = new Request("http://gateway.test/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json", "x-request-id": requestId },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], ...extra }),
  });
  const response = await buildApp().fetch(request, settings, ctx);
  const body = await response.text();
  await waitOnExecutionContext(ctx);
  return { status: response.status, body, origins: (await received(requestId)).map((request) => request.origin) };
}

describe("the first-byte timeout", () => {
  it("gives up on an origin that does not start its answer, well before the request timeout", async () => {
    const started = Date.now();
    const response = await postJson("/v1/chat/completions", { model: "quick/slow-headers", messages: [] });
    expect(response.status).toBe(504);
    const error = await errorOf(response);
    expect(error.code).toBe("request_timed_out");
    expect(error.message).toContain("did not start its answer within 1 s (network_config.first_byte_timeout_in_seconds)");
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it("stops counting once the answer has started: a stream silent for longer still completes", async () => {
    // Headers at once, then 2.5 s of silence (a long prefill), then the tokens.
    const { status, body } = await ask("quick/slow-first-token", { stream: true });
    expect(status).toBe(200);
    expect(sseData(body).at(-1)).toBe("[DONE]");
  }, 10_000);

  it("hands over to the request timeout once the answer has started: a JSON body that never finishes in time is a 504", async () => {
    // Headers at once, the body after 3 s: past the first-byte deadline (1 s) the whole-answer one (2 s) still runs.
    const started = Date.now();
    const response = await postJson("/v1/chat/completions", { model: "tight/slow-body", messages: [] });
    expect(response.status).toBe(504);
    const error = await errorOf(response);
    expect(error.message).toContain("did not answer within 2 s (network_config.default_request_timeout_in_seconds)");
    expect(Date.now() - started).toBeLessThan(2800);
  });
});

describe("the circuit breaker", () => {
  it("does not open on an origin that refuses the gateway's credentials: that is configuration, not health", async () => {
    // Threshold 2: were auth failures counted, the third request would find the circuit open and go to the standby.
    for (let i = 0; i < 3; i += 1) {
      const { status, origins } = await ask("locked/meta-llama/Llama-3.2-1B-Instruct");
      expect({ status, origins }).toEqual({ status: 502, origins: ["auth"] });
    }
  });
});
