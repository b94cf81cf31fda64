/**
 * The exact-match response cache: a deterministic request answered before is replayed (a stream as a stream)
 * without reaching the origin, charged nothing, never across virtual keys unless a key shares its entries.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { LLAMA, configure, origin, quota, received, virtualKey } from "./helpers";

beforeAll(async () => {
  await configure({ vllm: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin("default") } }] } });
});

interface Sent {
  status: number;
  cache: string | null;
  body: string;
  /** Requests the origin received for this one. */
  reached: number;
}

async function send(body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Sent> {
  const requestId = crypto.randomUUID();
  const ctx = createExecutionContext();
  const request = new Request("http://gateway.test/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json", "x-request-id": requestId, ...headers },
    body: JSON.stringify({ model: `vllm/${LLAMA}`, messages: [{ role: "user", content: "Name a colour." }], ...body }),
  });
  const response = await buildApp().fetch(request, env, ctx);
  const text = await response.text();
  // The copy kept for the cache is written from waitUntil.
  await waitOnExecutionContext(ctx);
  return { status: response.status, cache: response.headers.get("x-bf-cache"), body: text, reached: (await received(requestId)).length };
}

describe("the exact-match response cache", () => {
  it("replays a key's deterministic JSON answer without reaching the origin, charging nothing", async () => {
    const key = await virtualKey("cached", { provider_configs: [{ provider: "vllm" }], response_cache: { ttl_seconds: 60 }, rate_limit: { token_max_limit: 100_000, token_reset_duration: "1h" } });
    const prompt = { temperature: 0, messages: [{ role: "user", content: "cache me (json)" }] };
    const first = await send(prompt, { "x-bf-vk": key });
    expect([first.status, first.cache, first.reached]).toEqual([200, "miss", 1]);
    const spent = (await quota(key)).rate_limits[0]?.tokens?.current_usage;
    // What the origin reported for the first request, exactly.
    expect(spent).toBe((JSON.parse(first.body) as { usage: { total_tokens: number } }).usage.total_tokens);
    const second = await send(prompt, { "x-bf-vk": key });
    expect([second.status, second.cache, second.reached]).toEqual([200, "hit", 0]);
    expect(second.body).toBe(first.body);
    expect((await quota(key)).rate_limits[0]?.tokens?.current_usage).toBe(spent);
  });

  it("keeps no answer whose completion limit the gateway lowered to the key's room at that moment", async () => {
    const key = await virtualKey("cached-lowered", { provider_configs: [{ provider: "vllm" }], response_cache: { ttl_seconds: 60 }, rate_limit: { token_max_limit: 2000, token_reset_duration: "1h" } });
    // No max_tokens: the default 4096 is lowered to what the 2,000-token window has left. Not kept (a kept answer is
    // marked "miss"), so the second request reaches the origin too.
    const lowered = { temperature: 0, messages: [{ role: "user", content: "cache me (lowered)" }] };
    expect((await send(lowered, { "x-bf-vk": key })).cache).toBeNull();
    const again = await send(lowered, { "x-bf-vk": key });
    expect([again.cache, again.reached]).toEqual([null, 1]);
    // Its own limit, granted whole: kept and replayed.
    const whole = { ...lowered, max_tokens: 10 };
    expect((await send(whole, { "x-bf-vk": key })).cache).toBe("miss");
    expect((await send(whole, { "x-bf-vk": key })).cache).toBe("hit");
  });

  it("replays an answer only to the model name it was asked under, which the answer echoes", async () => {
    const key = await virtualKey("cached-names", { provider_configs: [{ provider: "vllm", weight: 1 }], response_cache: { ttl_seconds: 60 } });
    const prompt = { temperature: 0, max_tokens: 10, messages: [{ role: "user", content: "cache me (names)" }] };
    expect((await send({ ...prompt, model: LLAMA }, { "x-bf-vk": key })).cache).toBe("miss");
    const prefixed = await send({ ...prompt, model: `vllm/${LLAMA}` }, { "x-bf-vk": key });
    expect([prefixed.cache, (JSON.parse(prefixed.body) as { model: string }).model]).toEqual(["miss", `vllm/${LLAMA}`]);
    expect((await send({ ...prompt, model: LLAMA }, { "x-bf-vk": key })).cache).toBe("hit");
  });

  it("counts a replay as one of the key's requests, so a key at its request limit is refused a replay too", async () => {
    const key = await virtualKey("cached-limited", {
      provider_configs: [{ provider: "vllm" }],
      response_cache: { ttl_seconds: 60 },
      rate_limit: { request_max_limit: 2, request_reset_duration: "1h", token_max_limit: 100_000, token_reset_duration: "1h" },
    });
    const prompt = { temperature: 0, messages: [{ role: "user", content: "cache me (limited)" }] };
    const first = await send(prompt, { "x-bf-vk": key });
    expect([first.status, first.cache, first.reached]).toEqual([200, "miss", 1]);
    const spent = (await quota(key)).rate_limits[0]?.tokens?.current_usage;
    const second = await send(prompt, { "x-bf-vk": key });
    expect([second.status, second.cache, second.reached]).toEqual([200, "hit", 0]);
    const after = (await quota(key)).rate_limits[0];
    // Two requests counted, no tokens added and none left reserved by the replay.
    expect([after?.requests?.current_usage, after?.tokens?.current_usage, after?.tokens?.reserved]).toEqual([2, spent, 0]);
    const third = await send(prompt, { "x-bf-vk": key });
    expect([third.status, third.reached]).toEqual([429, 0]);
    expect((JSON.parse(third.body) as { error: { code: string } }).error.code).toBe("request_limited");
  });

  it("replays a stream as the same stream", async () => {
    const key = await virtualKey("cached-stream", { provider_configs: [{ provider: "vllm" }], response_cache: { ttl_seconds: 60 } });
    const prompt = { seed: 7, stream: true, messages: [{ role: "user", content: "cache me (stream)" }] };
    const first = await send(prompt, { "x-bf-vk": key });
    expect([first.status, first.cache, first.reached]).toEqual([200, "miss", 1]);
    const second = await send(prompt, { "x-bf-vk": key });
    expect([second.status, second.cache, second.reached]).toEqual([200, "hit", 0]);
    expect(second.body).toBe(first.body);
    expect(second.body.trimEnd().endsWith("data: [DONE]")).toBe(true);
  });

  it("keeps entries to the key that made them unless keys share them", async () => {
    const prompt = { temperature: 0, messages: [{ role: "user", content: "whose answer is this?" }] };
    const own = await virtualKey("cache-owner", { provider_configs: [{ provider: "vllm" }], response_cache: { ttl_seconds: 60 } });
    const other = await virtualKey("cache-other", { provider_configs: [{ provider: "vllm" }], response_cache: { ttl_seconds: 60 } });
    expect((await send(prompt, { "x-bf-vk": own })).cache).toBe("miss");
    expect((await send(prompt, { "x-bf-vk": other })).reached).toBe(1);
    const sharedPrompt = { temperature: 0, messages: [{ role: "user", content: "shared answer" }] };
    const a = await virtualKey("cache-shared-a", { provider_configs: [{ provider: "vllm" }], response_cache: { ttl_seconds: 60, shared_across_keys: true } });
    const b = await virtualKey("cache-shared-b", { provider_configs: [{ provider: "vllm" }], response_cache: { ttl_seconds: 60, shared_across_keys: true } });
    expect((await send(sharedPrompt, { "x-bf-vk": a })).reached).toBe(1);
    expect(await send(sharedPrompt, { "x-bf-vk": b })).toMatchObject({ cache: "hit", reached: 0 });
  });

  it("caches only deterministic requests, and a request opts in with x-bf-cache-key", async () => {
    const sampled = { temperature: 0.7, messages: [{ role: "user", content: "be creative" }] };
    expect(await send(sampled, { "x-bf-cache-key": "ns" })).toMatchObject({ cache: null, reached: 1 });
    expect(await send(sampled, { "x-bf-cache-key": "ns" })).toMatchObject({ cache: null, reached: 1 });
    const exact = { temperature: 0, messages: [{ role: "user", content: "keyless and deterministic" }] };
    expect(await send(exact)).toMatchObject({ cache: null, reached: 1 });
    expect(await send(exact, { "x-bf-cache-key": "ns" })).toMatchObject({ cache: "miss", reached: 1 });
    expect(await send(exact, { "x-bf-cache-key": "ns" })).toMatchObject({ cache: "hit", reached: 0 });
    // Another namespace is another entry.
    expect(await send(exact, { "x-bf-cache-key": "other" })).toMatchObject({ cache: "miss", reached: 1 });
  });
});
