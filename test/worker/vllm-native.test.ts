/**
 * vLLM's own endpoints through the gateway — /tokenize, /detokenize, /score, /classify, /pooling — under every
 * prefix, routed and governed like the rest: the served name upstream and the client's name back, allowed_requests
 * and request_path_overrides, score/classify/pooling charged the origin's prompt tokens (or the estimate when it
 * reports none), tokenize/detokenize and Anthropic's count_tokens counted against request windows but charged nothing.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { LLAMA, admin, configure, errorOf, gateway, origin, postJson, quota, received, virtualKey } from "./helpers";

/** "" is the gateway's root, where `vllm serve` has these paths. */
const PREFIXES = ["", "/v1", "/openai/v1", "/openai", "/vllm/v1", "/vllm"] as const;
const RERANKER = "BAAI/bge-reranker-v2-m3";

/** The model as a client under `prefix` names it: bare under /vllm, provider-prefixed elsewhere. */
const named = (prefix: string, model: string) => (prefix.startsWith("/vllm") ? model : `vllm/${model}`);

/**
 * A score of one query against two documents, and what the fake vLLM reports for it: each text costs
 * ceil(characters / 4) + 1 tokens, per pair — (9 + 9) + (9 + 3) = 30. The gateway's own estimate is 8 × 2 + 8 + 2 = 26.
 */
const SCORE_BODY = { text_1: "What is the capital of France?", text_2: ["The capital of France is Paris.", "Berlin"] };
const SCORE_USAGE = 30;
const SCORE_ESTIMATE = 26;
/** Classification of two texts: the fake reports (4 + 1) + (3 + 1) = 9 tokens; the estimate would be 4 + 3. */
const CLASSIFY_BODY = { input: ["This is great", "This is bad"] };
const CLASSIFY_USAGE = 9;
/** Pooling one text: the fake reports 3 + 1 = 4 tokens; the estimate would be 3. */
const POOLING_BODY = { input: "Hello world" };
const POOLING_USAGE = 4;

interface Usage {
  prompt_tokens: number;
  total_tokens: number;
}

function send(path: string, body: Record<string, unknown>, headers: Record<string, string> = {}, requestId: string = crypto.randomUUID()) {
  return postJson(path, body, { "x-request-id": requestId, ...headers });
}

async function upstreamOf(requestId: string): Promise<{ origin: string; path: string; body: Record<string, unknown> }[]> {
  return (await received(requestId)).map((r) => ({ origin: r.origin, path: r.path, body: JSON.parse(r.body || "{}") as Record<string, unknown> }));
}

/** Settled usage under a key: nano-dollars spent and held, tokens and requests counted. */
async function usageOf(key: string) {
  const report = await quota(key);
  const budget = report.budgets[0];
  const window = report.rate_limits[0];
  return {
    nanos: Math.round((budget?.current_usage ?? NaN) * 1e9),
    heldNanos: Math.round((budget?.reserved ?? NaN) * 1e9),
    tokens: window?.tokens?.current_usage,
    heldTokens: window?.tokens?.reserved,
    requests: window?.requests?.current_usage,
  };
}

beforeAll(async () => {
  await configure({
    vllm: { keys: [{ name: "local", models: ["*"], aliases: { "llama-small": LLAMA, scorer: RERANKER }, vllm_key_config: { url: origin("default") } }] },
    // A server from before /score moved out of /v1.
    legacy: { keys: [{ name: "old-server" }], network_config: { base_url: origin("legacy-score") }, custom_provider_config: { base_provider_type: "openai" } },
    // An origin whose answers carry no usage.
    quiet: { keys: [{ name: "quiet" }], network_config: { base_url: origin("no-usage") }, custom_provider_config: { base_provider_type: "openai" } },
    chatonly: { keys: [{ name: "chat" }], network_config: { base_url: origin("default") }, custom_provider_config: { base_provider_type: "openai", allowed_requests: { chat_completion: true } } },
    picky: { keys: [{ name: "picky" }], network_config: { base_url: origin("default") }, custom_provider_config: { base_provider_type: "openai", allowed_requests: { tokenize: true, score: true } } },
    moved: {
      keys: [{ name: "moved" }],
      network_config: { base_url: origin("moved") },
      custom_provider_config: { base_provider_type: "openai", request_path_overrides: { tokenize: `${origin("elsewhere")}/tokenize`, score: "/v1/score", pooling: "/pooling" } },
    },
  });
  // $1 per 1M input tokens (1,000 nano-dollars a token), $2 per 1M output; the two other providers likewise.
  for (const provider of ["vllm", "quiet"]) {
    const priced = await admin("POST", "/api/governance/pricing-overrides", { scope_kind: "provider", provider, match_type: "wildcard", pattern: "*", input_price_per_million: 1, output_price_per_million: 2 });
    expect(priced.status).toBe(200);
  }
});

describe("/tokenize and /detokenize", () => {
  it.each(PREFIXES)("are served under %s, with the served model name upstream", async (prefix) => {
    const tokenizeId = crypto.randomUUID();
    const tokenized = await send(`${prefix}/tokenize`, { model: named(prefix, "llama-small"), prompt: "Hello, world", return_token_strs: true }, {}, tokenizeId);
    expect(tokenized.status, await tokenized.clone().text()).toBe(200);
    expect(await tokenized.json()).toEqual({ count: 4, max_model_len: 8192, tokens: [0, 1, 2, 3], token_strs: ["t0", "t1", "t2", "t3"] });
    expect(await upstreamOf(tokenizeId)).toEqual([{ origin: "default", path: "/tokenize", body: { model: LLAMA, prompt: "Hello, world", return_token_strs: true } }]);

    const chatId = crypto.randomUUID();
    const messages = [{ role: "user", content: "hi" }];
    const chat = await send(`${prefix}/tokenize`, { model: named(prefix, LLAMA), messages, add_generation_prompt: true }, {}, chatId);
    expect(((await chat.json()) as { count: number }).count).toBe(Math.ceil(JSON.stringify(messages).length / 4));
    expect((await upstreamOf(chatId))[0]?.body).toEqual({ model: LLAMA, messages, add_generation_prompt: true });

    const detokenizeId = crypto.randomUUID();
    const detokenized = await send(`${prefix}/detokenize`, { model: named(prefix, "llama-small"), tokens: [1, 22, 333] }, {}, detokenizeId);
    expect(detokenized.status).toBe(200);
    expect(await detokenized.json()).toEqual({ prompt: "<1><22><333>" });
    expect(await upstreamOf(detokenizeId)).toEqual([{ origin: "default", path: "/detokenize", body: { model: LLAMA, tokens: [1, 22, 333] } }]);
  });

  it("ask /tokenize for Anthropic's count_tokens with what the chat template renders: system, tools and thinking", async () => {
    const countId = crypto.randomUUID();
    const messages = [{ role: "user", content: "hi" }];
    const counted = await send(
      "/anthropic/v1/messages/count_tokens",
      {
        model: `vllm/${LLAMA}`,
        system: "Be brief.",
        tools: [{ name: "get_weather", description: "Weather", input_schema: { type: "object", properties: { city: { type: "string" } } } }],
        thinking: { type: "enabled", budget_tokens: 1024 },
        messages,
      },
      { "anthropic-version": "2023-06-01" },
      countId,
    );
    expect(counted.status).toBe(200);
    expect((await upstreamOf(countId))[0]?.body).toEqual({
      model: LLAMA,
      messages: [{ role: "system", content: "Be brief." }, ...messages],
      add_generation_prompt: true,
      tools: [{ type: "function", function: { name: "get_weather", description: "Weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }],
      chat_template_kwargs: { enable_thinking: true },
    });
  });

  it("pass the origin's own refusal through in the OpenAI shape", async () => {
    const response = await send("/v1/tokenize", { model: "vllm/not-served", prompt: "x" });
    expect(response.status).toBe(404);
    expect(await errorOf(response)).toMatchObject({ code: "model_not_found", param: "model" });
  });
});

describe("/score, /classify and /pooling", () => {
  it("route by model and answer with the client's model name", async () => {
    const scoreId = crypto.randomUUID();
    const score = await send("/v1/score", { model: "vllm/scorer", ...SCORE_BODY }, {}, scoreId);
    expect(score.status, await score.clone().text()).toBe(200);
    const scored = (await score.json()) as { model: string; object: string; data: { index: number; object: string; score: number }[]; usage: Usage };
    expect(scored).toMatchObject({ model: "vllm/scorer", object: "list", usage: { prompt_tokens: SCORE_USAGE, total_tokens: SCORE_USAGE } });
    expect(scored.data.map((d) => [d.index, d.object])).toEqual([[0, "score"], [1, "score"]]);
    expect(await upstreamOf(scoreId)).toEqual([{ origin: "default", path: "/score", body: { model: RERANKER, ...SCORE_BODY } }]);

    // Under /vllm a bare name is a vLLM model, and /vllm/score is vLLM's own /score path.
    const bare = await send("/vllm/score", { model: "scorer", queries: "a", documents: ["a", "b"] });
    expect(((await bare.json()) as { model: string }).model).toBe("scorer");

    const classifyId = crypto.randomUUID();
    const classify = await send("/v1/classify", { model: "vllm/llama-small", ...CLASSIFY_BODY }, {}, classifyId);
    expect(classify.status).toBe(200);
    const classified = (await classify.json()) as { model: string; data: { label: string; num_classes: number }[]; usage: Usage };
    expect(classified.model).toBe("vllm/llama-small");
    expect(classified.data.map((d) => d.label)).toEqual(["positive", "negative"]);
    expect(await upstreamOf(classifyId)).toEqual([{ origin: "default", path: "/classify", body: { model: LLAMA, ...CLASSIFY_BODY } }]);

    const poolingId = crypto.randomUUID();
    const pooling = await send("/openai/pooling", { model: "vllm/llama-small", ...POOLING_BODY }, {}, poolingId);
    expect(pooling.status).toBe(200);
    expect(await pooling.json()).toMatchObject({ model: "vllm/llama-small", data: [{ index: 0, object: "pooling", data: [[0.25, 0.5], [0.75, 1]] }] });
    expect(await upstreamOf(poolingId)).toEqual([{ origin: "default", path: "/pooling", body: { model: LLAMA, ...POOLING_BODY } }]);
  });

  it("fall back to /v1/score on a server that has no /score", async () => {
    const requestId = crypto.randomUUID();
    const response = await send("/v1/score", { model: `legacy/${RERANKER}`, ...SCORE_BODY }, {}, requestId);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { model: string }).model).toBe(`legacy/${RERANKER}`);
    expect((await upstreamOf(requestId)).map((r) => r.path)).toEqual(["/score", "/v1/score"]);
  });
});

describe("request_path_overrides", () => {
  it("send each endpoint where the provider says, and never to the fallback path", async () => {
    const tokenizeId = crypto.randomUUID();
    expect((await send("/v1/tokenize", { model: `moved/${LLAMA}`, prompt: "x" }, {}, tokenizeId)).status).toBe(200);
    expect((await upstreamOf(tokenizeId)).map((r) => [r.origin, r.path])).toEqual([["elsewhere", "/tokenize"]]);

    const scoreId = crypto.randomUUID();
    expect((await send("/v1/score", { model: `moved/${RERANKER}`, ...SCORE_BODY }, {}, scoreId)).status).toBe(200);
    expect((await upstreamOf(scoreId)).map((r) => [r.origin, r.path])).toEqual([["moved", "/v1/score"]]);

    // Detokenize has no override: vLLM's own path on the provider's base URL.
    const detokenizeId = crypto.randomUUID();
    expect((await send("/v1/detokenize", { model: `moved/${LLAMA}`, tokens: [1] }, {}, detokenizeId)).status).toBe(200);
    expect((await upstreamOf(detokenizeId)).map((r) => [r.origin, r.path])).toEqual([["moved", "/detokenize"]]);
  });

  it("are validated: an unknown path key is refused", async () => {
    const response = await admin("PUT", "/api/providers/badpaths", {
      keys: [{ name: "k" }],
      network_config: { base_url: origin("default") },
      custom_provider_config: { base_provider_type: "openai", request_path_overrides: { tokenise: "/tokenize" } },
    });
    expect(response.status).toBe(400);
  });
});

describe("allowed_requests", () => {
  const calls: [string, Record<string, unknown>][] = [
    ["/v1/tokenize", { prompt: "x" }],
    ["/v1/detokenize", { tokens: [1] }],
    ["/v1/score", SCORE_BODY],
    ["/v1/classify", CLASSIFY_BODY],
    ["/v1/pooling", POOLING_BODY],
  ];

  it("refuse each endpoint on a provider that does not allow its request type, as other endpoints are refused", async () => {
    for (const [path, body] of calls) {
      const requestId = crypto.randomUUID();
      const response = await send(path, { model: `chatonly/${LLAMA}`, ...body }, {}, requestId);
      expect(response.status, path).toBe(400);
      const error = await errorOf(response);
      expect(error.code, path).toBe("unsupported_operation");
      expect(error.message, path).toContain(`${path.slice(4)} is not allowed for provider 'chatonly' (custom_provider_config.allowed_requests)`);
      expect(await received(requestId), path).toEqual([]);
    }
  });

  it("serve the types a provider allows, and only those", async () => {
    const statuses = [];
    for (const [path, body] of calls) statuses.push((await send(path, { model: `picky/${LLAMA}`, ...body })).status);
    expect(statuses).toEqual([200, 400, 200, 400, 400]);
  });

  it("under a virtual key: a provider the key may not use is a 403, a bare name no allowed provider serves a 400", async () => {
    const key = await virtualKey("native-chatonly", { provider_configs: [{ provider: "chatonly", weight: 1 }] });
    const blocked = await send("/v1/tokenize", { model: `vllm/${LLAMA}`, prompt: "x" }, { "x-bf-vk": key });
    expect(blocked.status).toBe(403);
    expect((await errorOf(blocked)).code).toBe("provider_blocked");
    const bare = await send("/v1/score", { model: "anything", ...SCORE_BODY }, { "x-bf-vk": key });
    expect(bare.status).toBe(400);
    expect((await errorOf(bare)).code).toBe("provider_required");
  });
});

describe("charges", () => {
  it("are the origin's reported prompt tokens at the configured price for score, classify and pooling", async () => {
    const key = await virtualKey("native-charges", {
      provider_configs: [{ provider: "vllm" }],
      budgets: [{ max_limit: 1, reset_duration: "1d" }],
      rate_limit: { token_max_limit: 1_000_000, token_reset_duration: "1d", request_max_limit: 100, request_reset_duration: "1d" },
    });
    const steps: [string, Record<string, unknown>, number][] = [
      ["/v1/score", { model: "vllm/scorer", ...SCORE_BODY }, SCORE_USAGE],
      ["/v1/classify", { model: "vllm/llama-small", ...CLASSIFY_BODY }, CLASSIFY_USAGE],
      ["/vllm/pooling", { model: "llama-small", ...POOLING_BODY }, POOLING_USAGE],
    ];
    let tokens = 0;
    let requests = 0;
    for (const [path, body, reported] of steps) {
      const response = await send(path, body, { "x-bf-vk": key });
      expect(response.status, path).toBe(200);
      expect(((await response.json()) as { usage: Usage }).usage.prompt_tokens, path).toBe(reported);
      tokens += reported;
      requests += 1;
      // $1 per 1M input tokens: 1,000 nano-dollars a token, nothing for output (there is none).
      expect(await usageOf(key), path).toEqual({ nanos: tokens * 1_000, heldNanos: 0, tokens, heldTokens: 0, requests });
    }
    expect(tokens).toBe(43);
  });

  it("are the estimate when the origin reports no usage", async () => {
    const key = await virtualKey("native-estimate", {
      provider_configs: [{ provider: "quiet" }],
      budgets: [{ max_limit: 1, reset_duration: "1d" }],
      rate_limit: { token_max_limit: 1_000_000, token_reset_duration: "1d" },
    });
    const response = await send("/v1/score", { model: `quiet/${RERANKER}`, ...SCORE_BODY }, { "x-bf-vk": key });
    expect(response.status).toBe(200);
    expect((await response.json()) as Record<string, unknown>).not.toHaveProperty("usage");
    expect(await usageOf(key)).toEqual({ nanos: SCORE_ESTIMATE * 1_000, heldNanos: 0, tokens: SCORE_ESTIMATE, heldTokens: 0, requests: undefined });
  });

  it("are nothing for tokenize and detokenize, which are still counted as requests — even on an unpriced model under a budget", async () => {
    const key = await virtualKey("native-free", {
      provider_configs: [{ provider: "vllm" }, { provider: "legacy" }],
      budgets: [{ max_limit: 1, reset_duration: "1d" }],
      rate_limit: { token_max_limit: 1_000_000, token_reset_duration: "1d", request_max_limit: 100, request_reset_duration: "1d" },
    });
    expect((await send("/v1/tokenize", { model: "vllm/llama-small", prompt: "a prompt of some length" }, { "x-bf-vk": key })).status).toBe(200);
    expect((await send("/v1/detokenize", { model: "vllm/llama-small", tokens: [1, 2, 3, 4, 5] }, { "x-bf-vk": key })).status).toBe(200);
    // legacy's models have no price: a budget refuses them for scoring, not for tokenizing.
    expect((await send("/v1/tokenize", { model: `legacy/${LLAMA}`, prompt: "x" }, { "x-bf-vk": key })).status).toBe(200);
    const unpriced = await send("/v1/score", { model: `legacy/${RERANKER}`, ...SCORE_BODY }, { "x-bf-vk": key });
    expect(unpriced.status).toBe(403);
    expect((await errorOf(unpriced)).code).toBe("model_unpriced");
    expect(await usageOf(key)).toEqual({ nanos: 0, heldNanos: 0, tokens: 0, heldTokens: 0, requests: 3 });
  });
});

describe("request windows", () => {
  const N = 3;

  it("refuse tokenize on request N+1", async () => {
    const key = await virtualKey("native-window", { provider_configs: [{ provider: "vllm" }], rate_limit: { request_max_limit: N, request_reset_duration: "1h" } });
    const statuses = [];
    for (let i = 0; i <= N; i += 1) statuses.push((await send(i % 2 ? "/vllm/tokenize" : "/v1/tokenize", { model: i % 2 ? "llama-small" : "vllm/llama-small", prompt: "x" }, { "x-bf-vk": key })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const refused = await send("/v1/detokenize", { model: "vllm/llama-small", tokens: [1] }, { "x-bf-vk": key });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("x-ratelimit-limit-requests")).toBe(String(N));
    expect((await errorOf(refused)).type).toBe("request_limited");
  });

  it("refuse count_tokens on request N+1, which reserves and costs nothing", async () => {
    const key = await virtualKey("count-window", {
      provider_configs: [{ provider: "vllm" }],
      budgets: [{ max_limit: 1, reset_duration: "1d" }],
      rate_limit: { request_max_limit: N, request_reset_duration: "1h", token_max_limit: 1_000_000, token_reset_duration: "1d" },
    });
    const count = () =>
      gateway("/anthropic/v1/messages/count_tokens", {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": key, "anthropic-version": "2023-06-01" },
        body: JSON.stringify({ model: `vllm/${LLAMA}`, messages: [{ role: "user", content: "Hello, Claude" }] }),
      });
    for (let i = 0; i < N; i += 1) {
      const response = await count();
      expect(response.status).toBe(200);
      // The fake vLLM's /tokenize counts a quarter token per character of the messages' JSON.
      expect(((await response.json()) as { input_tokens: number }).input_tokens).toBe(Math.ceil(JSON.stringify([{ role: "user", content: "Hello, Claude" }]).length / 4));
    }
    expect(await usageOf(key)).toEqual({ nanos: 0, heldNanos: 0, tokens: 0, heldTokens: 0, requests: N });
    const refused = await count();
    expect(refused.status).toBe(429);
    // Anthropic's routes answer in Anthropic's error shape.
    expect(await refused.json()).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });
    expect(refused.headers.get("retry-after")).not.toBeNull();
  });
});

describe("malformed bodies", () => {
  const cases: [string, string][] = [
    ["/v1/tokenize", "{not json"],
    ["/v1/tokenize", JSON.stringify({ prompt: "no model" })],
    ["/v1/tokenize", JSON.stringify({ model: "vllm/m" })],
    ["/v1/tokenize", JSON.stringify({ model: "vllm/m", prompt: 5 })],
    ["/v1/tokenize", JSON.stringify({ model: "vllm/m", messages: "hi" })],
    ["/v1/detokenize", JSON.stringify({ model: "vllm/m" })],
    ["/v1/detokenize", JSON.stringify({ model: "vllm/m", tokens: ["a"] })],
    ["/v1/detokenize", JSON.stringify({ model: "vllm/m", tokens: [-1] })],
    ["/v1/detokenize", JSON.stringify({ model: "vllm/m", tokens: [1.5] })],
    ["/v1/score", JSON.stringify({ model: "vllm/m", text_1: "only one side" })],
    ["/v1/score", JSON.stringify({ model: "vllm/m", text_1: "a", text_2: 7 })],
    ["/v1/score", JSON.stringify({ model: "vllm/m", queries: "a", text_2: "b" })],
    ["/v1/classify", JSON.stringify({ model: "vllm/m" })],
    ["/v1/classify", JSON.stringify({ model: "vllm/m", input: 5 })],
    ["/v1/pooling", JSON.stringify({ model: "vllm/m" })],
    ["/v1/pooling", JSON.stringify({ model: ["vllm/m"], input: "a" })],
    ["/v1/score", "[]"],
  ];

  it.each(cases)("%s %s is a 400 that never reaches the origin", async (path, body) => {
    const requestId = crypto.randomUUID();
    const response = await gateway(path, { method: "POST", headers: { "content-type": "application/json", "x-request-id": requestId }, body });
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(typeof error.message).toBe("string");
    expect(await received(requestId)).toEqual([]);
  });

  it("stream: true is refused on every one of them", async () => {
    const bodies: [string, Record<string, unknown>][] = [
      ["/v1/tokenize", { prompt: "x" }],
      ["/v1/detokenize", { tokens: [1] }],
      ["/v1/score", SCORE_BODY],
      ["/v1/classify", CLASSIFY_BODY],
      ["/v1/pooling", POOLING_BODY],
    ];
    for (const [path, body] of bodies) {
      const response = await send(path, { model: `vllm/${LLAMA}`, stream: true, ...body });
      expect(response.status, path).toBe(400);
      expect(await errorOf(response), path).toMatchObject({ code: "unsupported_parameter", param: "stream" });
    }
  });
});
