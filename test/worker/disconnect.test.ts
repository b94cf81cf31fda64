/**
 * A client that leaves before the first byte: the origin request is cancelled (vLLM stops generating) and the
 * key's reservation is released at once, uncharged.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { abandonBeforeFirstByte, configure, eventually, origin, quota, virtualKey } from "./helpers";

beforeAll(async () => {
  await configure({ vllm: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin("default") } }] } });
});

describe("a client that leaves before the first byte", () => {
  it("cancels the origin request and releases the reservation uncharged", async () => {
    const key = await virtualKey("leaves-early", { provider_configs: [{ provider: "vllm" }], max_concurrent_requests: 1, rate_limit: { token_max_limit: 100_000, token_reset_duration: "1h" } });
    // The origin has the request (its headers take 3 s to come): now the client goes away.
    const seen = await abandonBeforeFirstByte({ model: "vllm/slow-headers", messages: [{ role: "user", content: "hi" }], max_tokens: 10 }, { "x-bf-vk": key }, async () => {
      expect((await quota(key)).concurrency.in_flight).toBe(1);
    });
    expect(seen[0]?.closedEarly).toBe(true);
    const report = await eventually(() => quota(key), (q) => q.concurrency.in_flight === 0, 2000);
    expect(report.concurrency.in_flight).toBe(0);
    expect(report.rate_limits[0]?.tokens?.current_usage).toBe(0);
  });
});
