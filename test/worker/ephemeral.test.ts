/** Browser access: CORS, per-key origins, and ephemeral tokens minted from a virtual key. */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { LLAMA, admin, configure, errorOf, eventually, gateway, origin, postJson, quota, virtualKey } from "./helpers";

const APP = "https://app.example.com";
let parent = "";

beforeAll(async () => {
  await configure({ vllm: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin("default") } }] } });
  // $1000 per 1M output tokens: max_tokens 10 may cost $0.01.
  expect((await admin("POST", "/api/governance/pricing-overrides", { scope_kind: "global", match_type: "wildcard", pattern: "*", output_price_per_million: 1000 })).status).toBe(200);
  parent = await virtualKey("browser-parent", { provider_configs: [{ provider: "vllm" }], budgets: [{ max_limit: 10, reset_duration: "1d" }], allowed_origins: ["https://admin.example.com", APP] });
});

async function mint(body: Record<string, unknown>, key = parent): Promise<{ token: string; id: string }> {
  const response = await postJson("/api/governance/virtual-keys/ephemeral-tokens", body, { "x-bf-vk": key });
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as { token: string; id: string };
}

const chatAs = (token: string, from: string | undefined, extra: Record<string, unknown> = {}) =>
  postJson("/v1/chat/completions", { model: `vllm/${LLAMA}`, messages: [{ role: "user", content: "hi" }], max_tokens: 10, ...extra }, { authorization: `Bearer ${token}`, ...(from ? { origin: from } : {}) });

describe("CORS and per-key origins", () => {
  it("answers preflights at the edge and names the origin on answers", async () => {
    const preflight = await gateway("/v1/chat/completions", { method: "OPTIONS", headers: { origin: APP, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe(APP);
    expect(preflight.headers.get("access-control-allow-headers")).toBe("authorization, content-type");
  });

  it("refuses browser requests from origins a key does not allow, before any origin call", async () => {
    const refused = await postJson("/v1/chat/completions", { model: `vllm/${LLAMA}`, messages: [] }, { "x-bf-vk": parent, origin: "https://evil.example" });
    expect(refused.status).toBe(403);
    expect(refused.headers.get("access-control-allow-origin")).toBe("https://evil.example");
    expect((await errorOf(refused)).code).toBe("origin_not_allowed");
    const allowed = await postJson("/v1/chat/completions", { model: `vllm/${LLAMA}`, messages: [] }, { "x-bf-vk": parent, origin: "https://admin.example.com" });
    expect(allowed.status).toBe(200);
  });

  it("refuses keyless browser requests unless KEYLESS_ALLOWED_ORIGINS allows them", async () => {
    const request = () => new Request("http://gateway.test/v1/chat/completions", { method: "POST", headers: { origin: APP }, body: JSON.stringify({ model: `vllm/${LLAMA}`, messages: [] }) });
    expect((await buildApp().fetch(request(), env)).status).toBe(403);
    expect((await buildApp().fetch(request(), { ...env, KEYLESS_ALLOWED_ORIGINS: `https://other.example, ${APP}` })).status).toBe(200);
  });
});

describe("ephemeral tokens", () => {
  it("works from its one origin only, and only for its models", async () => {
    const { token } = await mint({ allowed_origin: APP, models: [`vllm/${LLAMA}`], expires_in_seconds: 600 });
    expect(token.startsWith("sk-bf-eph.")).toBe(true);
    expect((await chatAs(token, APP)).status).toBe(200);
    const elsewhere = await chatAs(token, "https://evil.example");
    expect(elsewhere.status).toBe(403);
    expect((await errorOf(elsewhere)).code).toBe("origin_not_allowed");
    expect((await chatAs(token, undefined)).status).toBe(403);
    const otherModel = await chatAs(token, APP, { model: "vllm/thinker" });
    expect(otherModel.status).toBe(403);
    expect((await errorOf(otherModel)).code).toBe("model_blocked");
  });

  it("rejects a tampered or expired token with 401", async () => {
    const { token } = await mint({ allowed_origin: APP, expires_in_seconds: 1 });
    const [payload, signature] = token.slice("sk-bf-eph.".length).split(".");
    const forged = JSON.parse(atob((payload ?? "").replace(/-/g, "+").replace(/_/g, "/"))) as Record<string, unknown>;
    forged.budget = 1000;
    const tampered = `sk-bf-eph.${btoa(JSON.stringify(forged)).replace(/=+$/, "")}.${signature}`;
    expect((await errorOf(await chatAs(tampered, APP))).code).toBe("ephemeral_token_invalid");
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const expired = await chatAs(token, APP);
    expect(expired.status).toBe(401);
    expect((await errorOf(expired)).code).toBe("ephemeral_token_expired");
  });

  it("refuses lifetimes over 24 hours, origins that are not origins, and limits no window or budget can hold", async () => {
    const bodies = [
      { allowed_origin: APP, expires_in_seconds: 86_401 },
      { allowed_origin: `${APP}/path` },
      { allowed_origin: APP, rate_limit: { request_max_limit: 2, request_reset_duration: "300000Y" } },
      { allowed_origin: APP, budget: { max_limit: 1e308 } },
    ];
    for (const body of bodies) {
      const response = await postJson("/api/governance/virtual-keys/ephemeral-tokens", body, { "x-bf-vk": parent });
      expect(response.status).toBe(400);
    }
  });

  it("can be revoked by its parent, one at a time or all at once", async () => {
    const one = await mint({ allowed_origin: APP });
    const two = await mint({ allowed_origin: APP });
    expect((await chatAs(one.token, APP)).status).toBe(200);
    expect((await gateway(`/api/governance/virtual-keys/ephemeral-tokens/${one.id}`, { method: "DELETE", headers: { "x-bf-vk": parent } })).status).toBe(200);
    const revoked = await chatAs(one.token, APP);
    expect(revoked.status).toBe(401);
    expect((await errorOf(revoked)).code).toBe("ephemeral_token_revoked");
    expect((await chatAs(two.token, APP)).status).toBe(200);
    // Another key cannot revoke it — and is told so rather than told it worked; nor can an id no key minted be.
    const other = await virtualKey("ephemeral-other-parent", { provider_configs: [{ provider: "vllm" }] });
    const strangers: [string, string][] = [[other, two.id], [parent, "not-a-token-id"], [parent, `${two.id.split(".")[0]}.AAAAAAAAAAAAAAAA`]];
    for (const [key, id] of strangers) {
      const refused = await gateway(`/api/governance/virtual-keys/ephemeral-tokens/${id}`, { method: "DELETE", headers: { "x-bf-vk": key } });
      expect(refused.status).toBe(404);
      expect((await errorOf(refused)).code).toBe("ephemeral_token_not_found");
    }
    expect((await chatAs(two.token, APP)).status).toBe(200);
    expect((await gateway("/api/governance/virtual-keys/ephemeral-tokens", { method: "DELETE", headers: { "x-bf-vk": parent } })).status).toBe(200);
    expect((await chatAs(two.token, APP)).status).toBe(401);
  });

  it("counts usage against its own sub-budget and its parent's budget, exactly", async () => {
    const { token } = await mint({ allowed_origin: APP, budget: { max_limit: 0.012 } });
    const before = (await quota(parent)).budgets[0]?.current_usage ?? 0;
    expect((await chatAs(token, APP)).status).toBe(200);
    // The first request spent a few thousandths; another $0.01 worst case would pass $0.012.
    const refused = await chatAs(token, APP);
    expect(refused.status).toBe(402);
    expect((await errorOf(refused)).message).toContain("ephemeral token budget");
    const after = await eventually(() => quota(parent), (q) => (q.budgets[0]?.current_usage ?? 0) > before);
    expect((after.budgets[0]?.current_usage ?? 0) - before).toBeGreaterThan(0);
  });

  it("has its own request window", async () => {
    const { token } = await mint({ allowed_origin: APP, rate_limit: { request_max_limit: 2, request_reset_duration: "1h" } });
    expect((await chatAs(token, APP)).status).toBe(200);
    expect((await chatAs(token, APP)).status).toBe(200);
    const limited = await chatAs(token, APP);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBeTruthy();
  });

  it("lets a browser app holding a key read that key's quota from an origin the key allows, and no other", async () => {
    const preflight = await gateway("/api/governance/virtual-keys/quota", { method: "OPTIONS", headers: { origin: APP, "access-control-request-method": "GET", "access-control-request-headers": "x-bf-vk" } });
    expect([preflight.status, preflight.headers.get("access-control-allow-origin"), preflight.headers.get("access-control-allow-headers")]).toEqual([204, APP, "x-bf-vk"]);
    const read = await gateway("/api/governance/virtual-keys/quota", { headers: { "x-bf-vk": parent, origin: APP } });
    expect([read.status, read.headers.get("access-control-allow-origin")]).toEqual([200, APP]);
    const elsewhere = await gateway("/api/governance/virtual-keys/quota", { headers: { "x-bf-vk": parent, origin: "https://evil.example.com" } });
    expect([elsewhere.status, (await errorOf(elsewhere)).code]).toEqual([403, "origin_not_allowed"]);
    // The token routes are for backends: a browser's preflight for them is refused.
    const mintPreflight = await gateway("/api/governance/virtual-keys/ephemeral-tokens", { method: "OPTIONS", headers: { origin: APP, "access-control-request-method": "POST" } });
    expect(mintPreflight.status).toBe(403);
  });

  it("cannot mint tokens or read its key's quota", async () => {
    const { token } = await mint({ allowed_origin: APP });
    expect((await postJson("/api/governance/virtual-keys/ephemeral-tokens", { allowed_origin: APP }, { authorization: `Bearer ${token}`, origin: APP })).status).toBe(403);
    expect((await gateway("/api/governance/virtual-keys/quota", { headers: { authorization: `Bearer ${token}`, origin: APP } })).status).toBe(403);
  });

  it("is minted only for an origin its parent allows, when the parent names any", async () => {
    const refused = await postJson("/api/governance/virtual-keys/ephemeral-tokens", { allowed_origin: "https://elsewhere.example" }, { "x-bf-vk": parent });
    expect(refused.status).toBe(403);
    const error = await errorOf(refused);
    expect(error.code).toBe("origin_not_allowed");
    expect(error.param).toBe("allowed_origin");
    // A parent that names no origins leaves the choice to its backend.
    const open = await virtualKey("browser-open-parent", { provider_configs: [{ provider: "vllm" }] });
    expect((await postJson("/api/governance/virtual-keys/ephemeral-tokens", { allowed_origin: "https://elsewhere.example" }, { "x-bf-vk": open })).status).toBe(200);
  });

  it("dies with its parent: a key deleted and re-created under the same id does not revive it", async () => {
    const mortal = await virtualKey("browser-mortal", { provider_configs: [{ provider: "vllm" }], budgets: [{ max_limit: 1, reset_duration: "1d" }] });
    const { token } = await mint({ allowed_origin: APP }, mortal);
    expect((await chatAs(token, APP)).status).toBe(200);
    // virtualKey() deletes the key and creates it again under the same id.
    await virtualKey("browser-mortal", { provider_configs: [{ provider: "vllm" }], budgets: [{ max_limit: 1, reset_duration: "1d" }] });
    const revived = await chatAs(token, APP);
    expect(revived.status).toBe(401);
    expect((await errorOf(revived)).message).toBe("the virtual key behind this ephemeral token no longer exists");
  });
});
