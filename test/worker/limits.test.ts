/** Exactness of budgets, rate limits and concurrency under concurrency, window edges, settlement and expiry. */
import { createExecutionContext, evictDurableObject, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import type { AdmitRequest, LimiterOp } from "../../src/governance/limits";
import { LLAMA, admin, admitAtObject, configure, errorOf, eventually, origin, postJson, quota, received, settleAtObject, virtualKey } from "./helpers";

beforeAll(async () => {
  await configure({ vllm: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin("default") } }] } });
  // $1000 per 1M output tokens: a request with max_tokens 10 may cost at most $0.01.
  const price = await admin("POST", "/api/governance/pricing-overrides", { scope_kind: "provider", provider: "vllm", match_type: "wildcard", pattern: "*", input_price_per_million: 0, output_price_per_million: 1000 });
  expect(price.status).toBe(200);
});

/** An admission as the Worker sends it: 10 tokens, free, flexible. */
export function admission(extra: Partial<AdmitRequest> = {}): AdmitRequest {
  return { scope: null, promptTokens: 5, completionTokens: 5, choices: 1, flexible: false, minCompletionTokens: 1, fixedNanos: 0, nanosPerCompletionToken: 0, ttlMs: 60_000, ...extra };
}

function chat(key: string, model: string, extra: Record<string, unknown> = {}, requestId?: string) {
  return postJson("/v1/chat/completions", { model, messages: [{ role: "user", content: "hi" }], ...extra }, { "x-bf-vk": key, ...(requestId ? { "x-request-id": requestId } : {}) });
}

describe("budgets", () => {
  it("admits at most what the budget allows out of 200 concurrent requests, and never overspends", async () => {
    const key = await virtualKey("budget-burst", { provider_configs: [{ provider: "vllm" }], budgets: [{ max_limit: 0.5, reset_duration: "1d" }] });
    // slow-headers holds every admitted request in flight, so none settles before all are decided.
    const responses = await Promise.all(Array.from({ length: 200 }, () => chat(key, "vllm/slow-headers", { max_tokens: 10 })));
    const admitted = responses.filter((r) => r.status === 200).length;
    const refused = responses.filter((r) => r.status === 402);
    expect(admitted).toBe(50);
    expect(refused).toHaveLength(150);
    expect((await errorOf(refused[0] as Response)).type).toBe("budget_exceeded");
    await Promise.all(responses.filter((r) => !r.bodyUsed).map((r) => r.text()));
    const report = await eventually(() => quota(key), (q) => q.concurrency.in_flight === 0);
    const [budget] = report.budgets;
    expect(budget?.reserved).toBe(0);
    expect(budget?.current_usage).toBeGreaterThan(0);
    expect(budget?.current_usage).toBeLessThanOrEqual(0.5);
  }, 30_000);

  it("records the actual cost after the response, priced per 1M tokens", async () => {
    const key = await virtualKey("budget-cost", { provider_configs: [{ provider: "vllm" }], budgets: [{ max_limit: 1, reset_duration: "1M", calendar_aligned: true }] });
    const response = await chat(key, `vllm/${LLAMA}`, { max_tokens: 10 });
    const { usage } = (await response.json()) as { usage: { completion_tokens: number } };
    const report = await eventually(() => quota(key), (q) => (q.budgets[0]?.current_usage ?? 0) > 0);
    expect(report.budgets[0]?.current_usage).toBeCloseTo((usage.completion_tokens * 1000) / 1_000_000, 10);
    expect(report.budgets[0]?.resets_at).toMatch(/-01T00:00:00.000Z$/);
  });

  it("applies a provider config's own budget", async () => {
    const key = await virtualKey("pc-budget", { provider_configs: [{ provider: "vllm", budget: { max_limit: 0.012, reset_duration: "1h" } }] });
    expect((await chat(key, `vllm/${LLAMA}`, { max_tokens: 10 })).status).toBe(200);
    // The first request's few tokens are spent (or, until settled, $0.01 reserved); another $0.01 worst case would exceed $0.012.
    const second = await chat(key, `vllm/${LLAMA}`, { max_tokens: 10 });
    expect(second.status).toBe(402);
    expect((await errorOf(second)).message).toContain("provider config");
  });
});

describe("rate limits", () => {
  it("admits exactly the request limit per window, refuses with Retry-After, and resets", async () => {
    const key = await virtualKey("requests-edge", { provider_configs: [{ provider: "vllm" }], rate_limit: { request_max_limit: 5, request_reset_duration: "2s" } });
    const statuses = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await chat(key, `vllm/${LLAMA}`)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    const refused = await chat(key, `vllm/${LLAMA}`);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get("x-ratelimit-limit-requests")).toBe("5");
    expect(refused.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    const error = await errorOf(refused);
    expect(error.type).toBe("request_limited");
    expect(error.message).toMatch(/request limit exceeded .* 5\/5 .*resets in \d+s/);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect((await chat(key, `vllm/${LLAMA}`)).status).toBe(200);
  });

  it("takes limits written as 'no limit' (a $1e9 budget, 1e12 tokens) and answers under them with finite numbers", async () => {
    const key = await virtualKey("no-limit", {
      provider_configs: [{ provider: "vllm", weight: 1, allowed_models: ["*"] }],
      budget: { max_limit: 1e9, reset_duration: "1d" },
      rate_limit: { request_max_limit: 1e9, request_reset_duration: "1h", token_max_limit: 1e12, token_reset_duration: "1h" },
    });
    expect((await chat(key, `vllm/${LLAMA}`, { max_tokens: 10 })).status).toBe(200);
    const report = await eventually(() => quota(key), (q) => q.budgets[0]?.reserved === 0);
    expect(report.budgets[0]?.max_limit).toBe(1e9);
    expect(typeof report.budgets[0]?.remaining).toBe("number");
    expect(report.rate_limits[0]?.requests?.current_usage).toBe(1);
  });

  it("keeps a thousand-year window working to its refusal, and refuses a longer one when the key is written", async () => {
    const key = await virtualKey("millennium", { provider_configs: [{ provider: "vllm" }], rate_limit: { request_max_limit: 2, request_reset_duration: "1000Y" } });
    expect((await chat(key, `vllm/${LLAMA}`)).status).toBe(200);
    expect((await chat(key, `vllm/${LLAMA}`)).status).toBe(200);
    const refused = await chat(key, `vllm/${LLAMA}`);
    expect(refused.status).toBe(429);
    expect((await errorOf(refused)).type).toBe("request_limited");
    const window = (await quota(key)).rate_limits[0]?.requests;
    expect(window?.current_usage).toBe(2);
    expect(Date.parse(window?.resets_at ?? "") - Date.parse(window?.last_reset ?? "")).toBe(1000 * 365 * 86_400_000);

    const tooLong = await admin("PUT", "/api/governance/virtual-keys/past-dates", { name: "past-dates", provider_configs: [{ provider: "vllm" }], rate_limit: { request_max_limit: 2, request_reset_duration: "300000Y" } });
    expect(tooLong.status).toBe(400);
    expect((await errorOf(tooLong)).message).toContain("at most 1000Y");
    const team = await admin("PUT", "/api/governance/teams/past-dates", { name: "past-dates", budget: { max_limit: 10, reset_duration: "99999999999999999Y" } });
    expect(team.status).toBe(400);
  });

  it("reserves prompt estimate plus max_tokens against the token window", async () => {
    const body = { model: "vllm/slow-headers", messages: [{ role: "user", content: "hi" }], max_tokens: 30 };
    // "hi" is 1 token, plus 4 for its message and 3 for the reply header: 8 prompt tokens, and 30 to complete.
    const estimate = 8 + 30;
    const limit = estimate * 3 + 5; // room for exactly three in flight
    const key = await virtualKey("tokens-edge", { provider_configs: [{ provider: "vllm" }], rate_limit: { token_max_limit: limit, token_reset_duration: "1h" } });
    const responses = await Promise.all(Array.from({ length: 8 }, () => postJson("/v1/chat/completions", body, { "x-bf-vk": key })));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(3);
    const refused = responses.find((r) => r.status === 429) as Response;
    expect((await errorOf(refused)).type).toBe("token_limited");
    expect(refused.headers.get("x-ratelimit-limit-tokens")).toBe(String(limit));
  });

  it("caps requests in flight at max_concurrent_requests", async () => {
    const key = await virtualKey("concurrency", { provider_configs: [{ provider: "vllm" }], max_concurrent_requests: 3 });
    const responses = await Promise.all(Array.from({ length: 10 }, () => chat(key, "vllm/slow-headers")));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(3);
    const refused = responses.filter((r) => r.status === 429);
    expect(refused).toHaveLength(7);
    expect((await errorOf(refused[0] as Response)).type).toBe("concurrency_limited");
    await eventually(() => quota(key), (q) => q.concurrency.in_flight === 0);
    expect((await chat(key, `vllm/${LLAMA}`)).status).toBe(200);
  });
});

describe("settlement", () => {
  it("charges a client that disconnects mid-stream for the tokens it received", async () => {
    const key = await virtualKey("disconnect", { provider_configs: [{ provider: "vllm" }], rate_limit: { token_max_limit: 1_000_000, token_reset_duration: "1h" } });
    const requestId = crypto.randomUUID();
    const response = await chat(key, "vllm/slow-stream", { stream: true }, requestId);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await reader.read();
    await reader.cancel();
    const report = await eventually(() => quota(key), (q) => q.concurrency.in_flight === 0 && (q.rate_limits[0]?.tokens?.current_usage ?? 0) > 0);
    expect(report.concurrency.in_flight).toBe(0);
    expect(report.rate_limits[0]?.tokens?.current_usage).toBeGreaterThan(0);
    const seen = await eventually(() => received(requestId), (log) => log[0]?.closedEarly === true);
    expect(seen[0]?.closedEarly).toBe(true);
  });

  it("releases the reservation of a failed request", async () => {
    const key = await virtualKey("failure", { provider_configs: [{ provider: "vllm" }], budgets: [{ max_limit: 0.011, reset_duration: "1d" }], max_concurrent_requests: 1 });
    for (let i = 0; i < 3; i += 1) expect((await chat(key, "vllm/server-error", { max_tokens: 10 })).status).toBe(500);
    const report = await eventually(() => quota(key), (q) => q.concurrency.in_flight === 0);
    expect(report.budgets[0]?.current_usage).toBe(0);
    expect((await chat(key, `vllm/${LLAMA}`, { max_tokens: 10 })).status).toBe(200);
  });

  it("gives up a reservation that was never settled when its alarm fires", async () => {
    await virtualKey("crashed", { provider_configs: [{ provider: "vllm" }], max_concurrent_requests: 1 });
    const stub = env.VK_LIMITER.get(env.VK_LIMITER.idFromName("crashed"));
    const reservations = () => runInDurableObject(stub, async (_instance, state) => (await state.storage.list({ prefix: "r:" })).size);
    // A request admitted and never settled, as if its isolate had crashed.
    expect((await admitAtObject(stub, admission({ ttlMs: 300 }))).ok).toBe(true);
    expect(await reservations()).toBe(1); // durable before the admission was answered
    expect((await admitAtObject(stub, admission({ ttlMs: 300 }))).ok).toBe(false);
    // The object's own alarm releases it — in storage too; nothing else has to happen.
    expect(await eventually(reservations, (n) => n === 0)).toBe(0);
    expect((await admitAtObject(stub, admission({ ttlMs: 60_000 }))).ok).toBe(true);
  });
});

describe("requests that use no tokens", () => {
  it("pass a token window that usage has pushed past its limit, and still count as requests", async () => {
    await virtualKey("over-tokens", { provider_configs: [{ provider: "vllm" }], rate_limit: { token_max_limit: 10, token_reset_duration: "1h", request_max_limit: 3, request_reset_duration: "1h" } });
    const stub = env.VK_LIMITER.get(env.VK_LIMITER.idFromName("over-tokens"));
    const first = await admitAtObject(stub, admission());
    if (!first.ok) throw new Error("the first request should be admitted");
    // The origin used more than was reserved: the window is now over its limit.
    await settleAtObject(stub, [{ reservationId: first.reservationId, scope: null, tokens: 50, nanos: 0, tokenId: undefined }]);
    expect((await admitAtObject(stub, admission())).ok).toBe(false);
    const free = admission({ promptTokens: 0, completionTokens: 0 });
    expect((await admitAtObject(stub, free)).ok).toBe(true);
    expect((await admitAtObject(stub, free)).ok).toBe(true);
    // Three requests counted: the fourth is refused by the request window.
    expect(await admitAtObject(stub, free)).toMatchObject({ ok: false, type: "request_limited" });
  });
});

describe("durability", () => {
  it("keeps counters and spend when the key's object is evicted and restarted", async () => {
    const key = await virtualKey("restart", { provider_configs: [{ provider: "vllm" }], budgets: [{ max_limit: 1, reset_duration: "1d" }], rate_limit: { request_max_limit: 3, request_reset_duration: "1h" } });
    for (let i = 0; i < 2; i += 1) {
      const response = await chat(key, `vllm/${LLAMA}`, { max_tokens: 10 });
      expect(response.status, await response.text()).toBe(200);
    }
    const before = await eventually(() => quota(key), (q) => q.concurrency.in_flight === 0 && (q.budgets[0]?.current_usage ?? 0) > 0);
    await new Promise((resolve) => setTimeout(resolve, 100)); // past the write-behind interval
    await evictDurableObject(env.VK_LIMITER.get(env.VK_LIMITER.idFromName("restart")));
    const after = await quota(key);
    expect(after.budgets[0]?.current_usage).toBe(before.budgets[0]?.current_usage);
    expect(after.rate_limits[0]?.requests?.current_usage).toBe(2);
    expect((await chat(key, `vllm/${LLAMA}`, { max_tokens: 10 })).status).toBe(200);
    expect((await chat(key, `vllm/${LLAMA}`, { max_tokens: 10 })).status).toBe(429);
  });
});

describe("deactivation and the hot path", () => {
  it("refuses a deactivated key on its very next request, though its record is still cached", async () => {
    const key = await virtualKey("deactivate", { provider_configs: [{ provider: "vllm" }] });
    expect((await chat(key, `vllm/${LLAMA}`)).status).toBe(200);
    // Make the cached copy look stale-but-active everywhere else: only the Durable Object is told.
    await env.VK_LIMITER.get(env.VK_LIMITER.idFromName("deactivate")).configure({ name: "deactivate", active: false, maxConcurrent: null, budgets: [], rateLimits: [] });
    const refused = await chat(key, `vllm/${LLAMA}`);
    expect(refused.status).toBe(403);
    expect((await errorOf(refused)).type).toBe("virtual_key_blocked");
    expect((await admin("PUT", "/api/governance/virtual-keys/deactivate", { is_active: true })).status).toBe(200);
    expect((await chat(key, `vllm/${LLAMA}`)).status).toBe(200);
  });

  /** The key's Durable Object namespace, with every call recorded and settlement held until `release()`. */
  function gatedLimiter() {
    const completed: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let settleCalled: () => void = () => undefined;
    const settling = new Promise<void>((resolve) => (settleCalled = resolve));
    const countingStub = (stub: object) =>
      new Proxy(stub, {
        get(target, method) {
          const value: unknown = Reflect.get(target, method);
          if (typeof value !== "function" || typeof method !== "string") return value;
          return async (...args: unknown[]) => {
            // A call's name: its method, or for a group of operations, what they are ("admit", "settle", "admit+settle").
            const ops = method === "apply" ? (args[0] as LimiterOp[]) : null;
            const name = ops ? ops.map((op) => op.kind).join("+") : method;
            if (name.includes("settle")) {
              settleCalled();
              await gate;
            }
            const result: unknown = await Reflect.apply(value, target, args);
            completed.push(name);
            return result;
          };
        },
      });
    const namespace = new Proxy(env.VK_LIMITER, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop);
        if (typeof value !== "function") return value;
        if (prop === "get") return (id: DurableObjectId) => countingStub(target.get(id));
        return (...args: unknown[]) => Reflect.apply(value, target, args);
      },
    });
    return { namespace, completed, settling, release };
  }

  it.each(["false", "true"])("makes one Durable Object call to admit and one to settle, and answers only once settled (GROUP_LIMITER_CALLS=%s)", async (grouped) => {
    const key = await virtualKey(`one-call-${grouped}`, { provider_configs: [{ provider: "vllm" }], budgets: [{ max_limit: 5, reset_duration: "1d" }], rate_limit: { request_max_limit: 1000, request_reset_duration: "1h" } });
    expect((await chat(key, `vllm/${LLAMA}`)).status).toBe(200); // warms the key lookup
    const { namespace, completed, settling, release: releaseSettlement } = gatedLimiter();
    const ctx = createExecutionContext();
    let answered = false;
    const responding = Promise.resolve(
      buildApp().fetch(
        new Request("http://gateway.test/v1/chat/completions", { method: "POST", headers: { "x-bf-vk": key }, body: JSON.stringify({ model: `vllm/${LLAMA}`, messages: [] }) }),
        { ...env, VK_LIMITER: namespace, GROUP_LIMITER_CALLS: grouped },
        ctx,
      ),
    ).then((response) => ((answered = true), response));
    await settling;
    expect(completed).toEqual(["admit"]);
    expect(answered).toBe(false);
    releaseSettlement();
    const response = await responding;
    expect(response.status).toBe(200);
    expect(completed).toEqual(["admit", "settle"]);
    await response.text();
    await waitOnExecutionContext(ctx);
    expect(completed).toEqual(["admit", "settle"]);
  });

  it("holds a stream's [DONE] until its settlement has reached the key's object", async () => {
    const key = await virtualKey("stream-settle", { provider_configs: [{ provider: "vllm" }], rate_limit: { token_max_limit: 100_000, token_reset_duration: "1h" } });
    expect((await chat(key, `vllm/${LLAMA}`)).status).toBe(200); // warms the key lookup
    const { namespace, completed, settling, release } = gatedLimiter();
    const ctx = createExecutionContext();
    const response = await buildApp().fetch(
      new Request("http://gateway.test/v1/chat/completions", { method: "POST", headers: { "x-bf-vk": key }, body: JSON.stringify({ model: `vllm/${LLAMA}`, stream: true, messages: [{ role: "user", content: "hi" }] }) }),
      { ...env, VK_LIMITER: namespace },
      ctx,
    );
    expect(response.status).toBe(200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let received = "";
    const reading = (async () => {
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) received += decoder.decode(chunk.value, { stream: true });
    })();
    // The origin's stream has ended and the settlement is under way, but held: the client has not seen the end.
    await settling;
    expect(completed).toEqual(["admit"]);
    expect(received).not.toContain("[DONE]");
    release();
    await reading;
    expect(received.trimEnd().endsWith("data: [DONE]")).toBe(true);
    expect(completed).toEqual(["admit", "settle"]);
    await waitOnExecutionContext(ctx);
  });
});
