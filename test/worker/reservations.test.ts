/**
 * Reservations are durable and alive only while their request is: they survive the key's object restarting,
 * running requests renew them, and one whose request died lapses within a TTL.
 */
import { createExecutionContext, evictDurableObject, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { LLAMA, admitAtObject, configure, eventually, origin, postJson, quota, virtualKey } from "./helpers";

beforeAll(async () => {
  await configure({ vllm: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin("default") } }] } });
});

const limiter = (id: string) => env.VK_LIMITER.get(env.VK_LIMITER.idFromName(id));

/** Expiry times of the reservations the object holds in storage. */
const storedExpiries = (id: string) =>
  runInDurableObject(limiter(id), async (_instance, state) => [...(await state.storage.list<{ expiresAt: number }>({ prefix: "r:" })).values()].map((r) => r.expiresAt));

function chatRequest(key: string, model: string): Request {
  return new Request("http://gateway.test/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json", "x-bf-vk": key },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 10 }),
  });
}

describe("reservations", () => {
  it("keep a request in flight and the usage settled so far across a restart of the key's object", async () => {
    const key = await virtualKey("survives-restart", { provider_configs: [{ provider: "vllm" }], max_concurrent_requests: 2, rate_limit: { token_max_limit: 100_000, token_reset_duration: "1h" } });
    const done = await postJson("/v1/chat/completions", { model: `vllm/${LLAMA}`, messages: [{ role: "user", content: "hi" }] }, { "x-bf-vk": key });
    const { usage } = (await done.json()) as { usage: { total_tokens: number } };
    // Settled before the answer: no waiting needed.
    expect((await quota(key)).rate_limits[0]?.tokens?.current_usage).toBe(usage.total_tokens);
    const inFlight = postJson("/v1/chat/completions", { model: "vllm/slow-headers", messages: [{ role: "user", content: "hi" }], max_tokens: 10 }, { "x-bf-vk": key });
    await eventually(() => storedExpiries("survives-restart"), (expiries) => expiries.length === 1);
    await evictDurableObject(limiter("survives-restart"));
    const restarted = await quota(key);
    expect(restarted.concurrency.in_flight).toBe(1);
    // "hi" (1) + 4 for the message + 3 for the reply header, and 10 to complete.
    expect(restarted.rate_limits[0]?.tokens?.reserved).toBe(18);
    expect(restarted.rate_limits[0]?.tokens?.current_usage).toBe(usage.total_tokens);
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    const second = (await answer.json()) as { usage: { total_tokens: number } };
    const after = await quota(key);
    expect(after.concurrency.in_flight).toBe(0);
    expect(after.rate_limits[0]?.tokens?.current_usage).toBe(usage.total_tokens + second.usage.total_tokens);
  });

  it("are renewed while their request runs", async () => {
    const key = await virtualKey("renewed", { provider_configs: [{ provider: "vllm" }] });
    const ctx = createExecutionContext();
    // A one-second TTL, and an origin that takes three seconds to answer: only renewals keep the reservation.
    const response = buildApp().fetch(chatRequest(key, "vllm/slow-headers"), { ...env, RESERVATION_TTL_SECONDS: "1" }, ctx);
    const [first] = await eventually(() => storedExpiries("renewed"), (expiries) => expiries.length === 1);
    const renewed = await eventually(() => storedExpiries("renewed"), (expiries) => (expiries[0] ?? 0) > (first ?? 0) + 500);
    expect(renewed[0]).toBeGreaterThan((first ?? 0) + 500);
    expect((await quota(key)).concurrency.in_flight).toBe(1);
    expect((await response).status).toBe(200);
    await waitOnExecutionContext(ctx);
    expect(await storedExpiries("renewed")).toEqual([]);
  });

  it("lapse within one TTL when their request died", async () => {
    await virtualKey("died", { provider_configs: [{ provider: "vllm" }], max_concurrent_requests: 1 });
    const admit = () =>
      admitAtObject(limiter("died"), { scope: null, promptTokens: 1, completionTokens: 1, choices: 1, flexible: false, minCompletionTokens: 1, fixedNanos: 0, nanosPerCompletionToken: 0, ttlMs: 400 });
    const held = await admit();
    expect(held.ok).toBe(true);
    expect((await admit()).ok).toBe(false);
    await evictDurableObject(limiter("died")); // as if the whole local runtime had been stopped
    expect(await storedExpiries("died")).toHaveLength(1);
    // Nobody renews it: the object's alarm gives it up, with nothing else happening.
    expect(await eventually(() => storedExpiries("died"), (expiries) => expiries.length === 0, 3000)).toEqual([]);
    expect((await admit()).ok).toBe(true);
  });

  it("tell a refused client to wait for the lapse when the requests holding them stopped renewing", async () => {
    await virtualKey("stale-holder", { provider_configs: [{ provider: "vllm" }], max_concurrent_requests: 1 });
    const admit = () =>
      admitAtObject(limiter("stale-holder"), { scope: null, promptTokens: 1, completionTokens: 1, choices: 1, flexible: false, minCompletionTokens: 1, fixedNanos: 0, nanosPerCompletionToken: 0, ttlMs: 60_000 });
    expect((await admit()).ok).toBe(true);
    // A live request renews its reservation: the next refusal says one second.
    const live = await admit();
    expect(live.ok ? null : live.retryAfterSeconds).toBe(1);
    // As if admitted 50 s ago by a request that died with its process: 10 s of the 60 s TTL left, no renewal since.
    await runInDurableObject(limiter("stale-holder"), async (_instance, state) => {
      const [[id, held]] = [...(await state.storage.list<{ expiresAt: number }>({ prefix: "r:" })).entries()] as [[string, { expiresAt: number }]];
      await state.storage.put(id, { ...held, expiresAt: Date.now() + 10_000 });
    });
    await evictDurableObject(limiter("stale-holder"));
    const stale = await admit();
    const retryAfter = stale.ok ? null : stale.retryAfterSeconds;
    expect(retryAfter).toBeGreaterThanOrEqual(9);
    expect(retryAfter).toBeLessThanOrEqual(10);
  });
});
