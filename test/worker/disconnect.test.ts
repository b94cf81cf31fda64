/**
 * A client that leaves before the first byte: the origin request is cancelled (vLLM stops generating) and the
 * key's reservation is released at once, uncharged.
 */
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { configure, eventually, origin, quota, received, virtualKey } from "./helpers";

beforeAll(async () => {
  await configure({ vllm: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin("default") } }] } });
});

describe("a client that leaves before the first byte", () => {
  it("cancels the origin request and releases the reservation uncharged", async () => {
    const key = await virtualKey("leaves-early", { provider_configs: [{ provider: "vllm" }], max_concurrent_requests: 1, rate_limit: { token_max_limit: 100_000, token_reset_duration: "1h" } });
    const requestId = crypto.randomUUID();
    const controller = new AbortController();
    const pending = exports.default
      .fetch(
        new Request("http://gateway.test/v1/chat/completions", {
          method: "POST",
          headers: { "content-type": "application/json", "x-bf-vk": key, "x-request-id": requestId },
          body: JSON.stringify({ model: "vllm/slow-headers", messages: [{ role: "user", content: "hi" }], max_tokens: 10 }),
          signal: controller.signal,
        }),
      )
      .catch((error: unknown) => error);
    // The origin has the request (its headers take 3 s to come): now the client goes away.
    await eventually(() => received(requestId), (log) => log.length === 1);
    expect((await quota(key)).concurrency.in_flight).toBe(1);
    controller.abort();
    await pending;
    const seen = await eventually(() => received(requestId), (log) => log[0]?.closedEarly === true, 2000);
    expect(seen[0]?.closedEarly).toBe(true);
    const report = await eventually(() => quota(key), (q) => q.concurrency.in_flight === 0, 2000);
    expect(report.concurrency.in_flight).toBe(0);
    expect(report.rate_limits[0]?.tokens?.current_usage).toBe(0);
  });
});
