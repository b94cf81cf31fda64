/** Routing details: prefixes, weights, retries, Access tokens, extra headers, and a hot path free of D1 and KV. */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { LLAMA, admin, configure, errorOf, origin, postJson, received, virtualKey } from "./helpers";

beforeAll(async () => {
  await configure({
    vllm: {
      keys: [
        { name: "a", models: ["*"], weight: 3, vllm_key_config: { url: origin("replica-a") } },
        { name: "b", models: ["*"], weight: 1, vllm_key_config: { url: origin("replica-b") } },
      ],
      network_config: { extra_headers: { "x-team": "research" } },
    },
    flaky: {
      keys: [
        { name: "busy", vllm_key_config: { url: origin("busy") }, weight: 1 },
        // Weight 0: a standby key, tried only after the weighted ones.
        { name: "healthy", vllm_key_config: { url: origin("healthy") }, weight: 0 },
      ],
      network_config: { base_url: origin("busy"), max_retries: 2, retry_backoff_initial: 100, retry_backoff_max: "200ms" },
      custom_provider_config: { base_provider_type: "openai" },
    },
    tunnel: {
      keys: [
        { name: "with-token", models: ["with-token"], aliases: { "with-token": LLAMA }, vllm_key_config: { url: origin("access") }, cloudflare_access: { client_id: "access-id", client_secret: "access-secret" } },
        { name: "without-token", models: ["without-token"], aliases: { "without-token": LLAMA }, vllm_key_config: { url: origin("access") } },
      ],
      network_config: { base_url: origin("access") },
      custom_provider_config: { base_provider_type: "openai" },
    },
    private: {
      keys: [
        { name: "via-vpc", models: ["*"], vllm_key_config: { url: "http://vllm-gpu-a.internal:8000" }, vpc_binding: "TEST_VPC" },
      ],
      network_config: { base_url: "http://vllm-gpu-a.internal:8000" },
      custom_provider_config: { base_provider_type: "openai" },
    },
    missing: {
      keys: [{ name: "no-binding", models: ["*"], vllm_key_config: { url: "http://x.internal" }, vpc_binding: "NOT_BOUND" }],
      network_config: { base_url: "http://x.internal" },
      custom_provider_config: { base_provider_type: "openai" },
    },
  });
});

const chat = (model: string, requestId = crypto.randomUUID(), path = "/v1/chat/completions") =>
  postJson(path, { model, messages: [{ role: "user", content: "hi" }] }, { "x-request-id": requestId });

describe("routing", () => {
  it("serves the same API under /v1, /openai/v1, /openai and /vllm", async () => {
    for (const path of ["/v1", "/openai/v1", "/openai", "/vllm/v1", "/vllm"]) {
      const response = await chat(`vllm/${LLAMA}`, undefined, `${path}/chat/completions`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get("x-bf-provider")).toBe("vllm");
    }
  });

  it("refuses a provider prefix with no model after it, which vLLM would serve as its default model", async () => {
    for (const model of ["vllm/", "vllm/   "]) {
      const response = await postJson("/v1/chat/completions", { model, messages: [{ role: "user", content: "hi" }] });
      expect(response.status).toBe(400);
      expect(await errorOf(response)).toMatchObject({ code: "invalid_model", param: "model", message: "model names provider 'vllm' but no model after it" });
    }
  });

  it("spreads traffic by key weight and sends the provider's extra headers", async () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 120; i += 1) {
      const id = `weights-${i}`;
      expect((await chat(`vllm/${LLAMA}`, id)).status).toBe(200);
      const [seen] = await received(id);
      counts[seen?.origin ?? "?"] = (counts[seen?.origin ?? "?"] ?? 0) + 1;
      if (i === 0) expect(seen?.headers["x-team"]).toBe("research");
    }
    expect(counts["replica-a"]).toBeGreaterThan(70);
    expect(counts["replica-b"]).toBeGreaterThan(10);
  });

  it("uses only the key a request pins by name (x-bf-api-key) or id (x-bf-api-key-id), among those it may use", async () => {
    const origins = async (headers: Record<string, string>, times: number, model = `vllm/${LLAMA}`) => {
      const seen = new Set<string>();
      for (let i = 0; i < times; i += 1) {
        const requestId = crypto.randomUUID();
        const response = await postJson("/v1/chat/completions", { model, messages: [{ role: "user", content: "hi" }] }, { "x-request-id": requestId, ...headers });
        expect(response.status, await response.clone().text()).toBe(200);
        seen.add((await received(requestId))[0]?.origin ?? "?");
      }
      return [...seen];
    };
    // Key b has a quarter of the weight: twelve requests pinned to it all go there.
    expect(await origins({ "x-bf-api-key": "b" }, 12)).toEqual(["replica-b"]);
    const listed = (await (await admin("GET", "/api/providers/vllm/keys")).json()) as { keys: { id: string; name: string }[] };
    const a = listed.keys.find((key) => key.name === "a");
    // Named but given no id, the key got a fresh UUID.
    expect(a?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(await origins({ "x-bf-api-key-id": a?.id ?? "" }, 4)).toEqual(["replica-a"]);

    const unknown = await postJson("/v1/chat/completions", { model: `vllm/${LLAMA}`, messages: [] }, { "x-bf-api-key": "no-such-key" });
    expect(unknown.status).toBe(400);
    expect(await errorOf(unknown)).toMatchObject({ code: "pinned_key_not_found", message: `no enabled key named 'no-such-key' (x-bf-api-key) of provider 'vllm' serves model 'vllm/${LLAMA}' for this request` });
    // Under a virtual key, a bare name may go through either of two provider configs: the pinned key picks which.
    const both = await virtualKey("pins-across-configs", { provider_configs: [{ provider: "vllm", weight: 1 }, { provider: "flaky", weight: 1 }] });
    expect(await origins({ "x-bf-vk": both, "x-bf-api-key": "healthy" }, 8, LLAMA)).toEqual(["healthy"]);
    expect(await origins({ "x-bf-vk": both, "x-bf-api-key": "b" }, 8, LLAMA)).toEqual(["replica-b"]);
    // An empty header pins nothing.
    expect((await postJson("/v1/chat/completions", { model: `vllm/${LLAMA}`, messages: [] }, { "x-bf-api-key": "" })).status).toBe(200);
    // A virtual key whose key_ids leave b out cannot pin b.
    const key = await virtualKey("pins-a-only", { provider_configs: [{ provider: "vllm", weight: 1, key_ids: ["a"] }] });
    const refused = await postJson("/v1/chat/completions", { model: `vllm/${LLAMA}`, messages: [] }, { "x-bf-vk": key, "x-bf-api-key": "b" });
    expect(refused.status).toBe(400);
    expect((await errorOf(refused)).code).toBe("pinned_key_not_found");
  });

  it("retries a 503 on the next key and reports the attempts", async () => {
    const response = await chat("flaky/unavailable-retry", "retry-1");
    expect(response.status).toBe(200);
    expect(Number(response.headers.get("x-bf-attempts"))).toBeGreaterThan(1);
    const attempts = await received("retry-1");
    expect(attempts.at(-1)?.origin).toBe("healthy");
  });

  it("sends the key's Cloudflare Access service token and explains the login redirect without one", async () => {
    expect((await chat("tunnel/with-token")).status).toBe(200);
    const refused = await chat("tunnel/without-token");
    expect(refused.status).toBe(502);
    const error = await errorOf(refused);
    expect(error.code).toBe("upstream_redirect");
    expect(error.message).toContain("service token");
  });
});

describe("Workers VPC bindings", () => {
  it("reaches a key's origin through its service binding", async () => {
    const response = await chat(`private/${LLAMA}`, "vpc-1");
    expect(response.status).toBe(200);
    const [seen] = await received("vpc-1");
    expect(seen).toMatchObject({ origin: "vpc", path: "/v1/chat/completions" });
  });

  it("says which binding is missing", async () => {
    const response = await chat(`missing/${LLAMA}`);
    expect(response.status).toBe(502);
    // Which setting is missing is for the operator's logs, not the client.
    const { message } = await errorOf(response);
    expect(message).toContain("cannot be used: its configuration on the gateway is incomplete");
    expect(message).not.toContain("NOT_BOUND");
  });
});

describe("hot path", () => {
  it("makes no D1 query and no KV call once the config is in memory", async () => {
    let d1Calls = 0;
    let kvCalls = 0;
    const countingDb = new Proxy(env.DB, { get: (target, prop, receiver) => (d1Calls++, Reflect.get(target, prop, receiver)) });
    const countingKv = new Proxy(env.CONFIG_KV, { get: (target, prop, receiver) => (kvCalls++, Reflect.get(target, prop, receiver)) });
    const app = buildApp();
    const warm = await chat(`vllm/${LLAMA}`); // the isolate now holds the published config
    expect(warm.status).toBe(200);
    for (let i = 0; i < 5; i += 1) {
      const ctx = createExecutionContext();
      const response = await app.fetch(
        new Request("http://gateway.test/v1/chat/completions", { method: "POST", body: JSON.stringify({ model: `vllm/${LLAMA}`, messages: [] }) }),
        { ...env, DB: countingDb, CONFIG_KV: countingKv, CONFIG_CACHE_SECONDS: "60" },
        ctx,
      );
      expect(response.status).toBe(200);
      await response.text();
      await waitOnExecutionContext(ctx);
    }
    expect(d1Calls).toBe(0);
    expect(kvCalls).toBe(0);
  });
});
