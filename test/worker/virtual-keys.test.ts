/** Virtual keys: the admin API, client auth, deny-by-default routing, quota. */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { LLAMA, admin, configure, errorOf, gateway, origin, postJson, quota, virtualKey } from "./helpers";

beforeAll(async () => {
  await configure({
    vllm: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin("default") } }] },
    "vllm-local": { keys: [{ name: "vllm-key-1", value: "dummy", weight: 1.0 }], network_config: { base_url: origin("vllm-local") }, custom_provider_config: { base_provider_type: "openai" } },
    "ollama-local": {
      keys: [{ name: "ollama-key-1", value: "dummy", models: ["mistral"], aliases: { mistral: LLAMA } }],
      network_config: { base_url: origin("ollama-local") },
      custom_provider_config: { base_provider_type: "openai" },
    },
  });
  // Budgeted keys are refused models without a price: every model here costs $0.10 / $0.20 per 1M tokens.
  const price = await admin("POST", "/api/governance/pricing-overrides", { scope_kind: "global", match_type: "wildcard", pattern: "*", input_price_per_million: 0.1, output_price_per_million: 0.2 });
  expect(price.status).toBe(200);
});

const chat = (model: string, headers: Record<string, string> = {}) => postJson("/v1/chat/completions", { model, messages: [{ role: "user", content: "hi" }] }, headers);

describe("virtual key admin API", () => {
  it("creates a key whose value is shown once and stored only as a hash", async () => {
    const created = await admin("POST", "/api/governance/virtual-keys", { name: "team-a", provider_configs: [{ provider: "vllm", weight: 1, allowed_models: ["*"] }] });
    expect(created.status).toBe(200);
    const { virtual_key } = (await created.json()) as { virtual_key: { id: string; value: string } };
    expect(virtual_key.value).toMatch(/^sk-bf-/);
    const fetched = (await (await admin("GET", `/api/governance/virtual-keys/${virtual_key.id}`)).json()) as { virtual_key: { value: string } };
    expect(fetched.virtual_key.value).not.toBe(virtual_key.value);
    // Shown by its first 8 and last 4 characters only.
    expect(fetched.virtual_key.value).toBe(`${virtual_key.value.slice(0, 8)}…${virtual_key.value.slice(-4)}`);
    const row = await env.DB.prepare("SELECT * FROM virtual_keys WHERE id = ?").bind(virtual_key.id).first();
    expect(JSON.stringify(row)).not.toContain(virtual_key.value);
    const list = (await (await admin("GET", "/api/governance/virtual-keys?limit=10")).json()) as { virtual_keys: unknown[]; total_count: number };
    expect(list.total_count).toBeGreaterThan(0);
    expect((await admin("POST", "/api/governance/virtual-keys", { name: "team-a" })).status).toBe(409);
    expect((await chat(`vllm/${LLAMA}`, { authorization: `Bearer ${virtual_key.value}` })).status).toBe(200);
    expect((await admin("DELETE", `/api/governance/virtual-keys/${virtual_key.id}`)).status).toBe(200);
    expect((await chat(`vllm/${LLAMA}`, { authorization: `Bearer ${virtual_key.value}` })).status).toBe(401);
  });

  it("accepts the tutorial's PUT bodies, including the singular budget", async () => {
    const response = await admin("PUT", "/api/governance/virtual-keys/vk-free", {
      provider_configs: [{ provider: "vllm-local", weight: 1.0 }],
      budget: { max_limit: 0, reset_duration: "1d" },
    });
    expect(response.status).toBe(200);
    const { virtual_key } = (await response.json()) as { virtual_key: { id: string; name: string; budgets: unknown[]; value: string } };
    expect(virtual_key).toMatchObject({ id: "vk-free", name: "vk-free" });
    expect(virtual_key.budgets).toHaveLength(1);
    // Priced models can never fit a $0 budget: a 400 that names the budget, not a 402 to wait out.
    const priced = await chat(`vllm-local/${LLAMA}`, { "x-bf-vk": virtual_key.value });
    expect(priced.status).toBe(400);
    const refusal = await errorOf(priced);
    expect(refusal.code).toBe("request_exceeds_limit");
    expect(refusal.message).toContain("budget (1d) of virtual key is $0.00");
    // Models explicitly priced at $0 are what a $0 budget serves.
    const free = await admin("POST", "/api/governance/pricing-overrides", { scope_kind: "provider", provider: "vllm-local", match_type: "wildcard", pattern: "*", input_price_per_million: 0, output_price_per_million: 0 });
    expect(free.status).toBe(200);
    expect((await chat(`vllm-local/${LLAMA}`, { "x-bf-vk": virtual_key.value })).status).toBe(200);
    const updated = await admin("PUT", "/api/governance/virtual-keys/vk-free", { rate_limit: { request_max_limit: 1000, request_reset_duration: "1h" } });
    const body = (await updated.json()) as { virtual_key: { budgets: unknown[]; rate_limit: unknown; value: string } };
    expect(body.virtual_key.budgets).toHaveLength(1);
    expect(body.virtual_key.rate_limit).toMatchObject({ request_max_limit: 1000 });
    expect(body.virtual_key.value).toMatch(/^sk-bf-.{2}….{4}$/);
  });

  it("accepts every virtual-key body of the unified-gateway tutorial", async () => {
    const bodies: Record<string, unknown> = {
      "vk-unified": { provider_configs: [
        { provider: "vllm-local", allowed_models: ["meta-llama/Llama-3-8B-Instruct"], weight: 0.5 },
        { provider: "ollama-local", allowed_models: ["mistral"], weight: 0.3 },
        { provider: "openai", allowed_models: ["gpt-4o-mini"], weight: 0.15 },
        { provider: "anthropic", allowed_models: ["claude-3-5-haiku-20241022"], weight: 0.05 },
      ] },
      "vk-premium": { provider_configs: [{ provider: "openai", allowed_models: ["gpt-4o"], weight: 1.0 }], budget: { max_limit: 100, reset_duration: "1M" } },
      "vk-sensitive": { provider_configs: [{ provider: "vllm-local", weight: 1.0 }, { provider: "ollama-local", weight: 0.0 }] },
      "vk-general": { provider_configs: [{ provider: "openai", weight: 0.8 }, { provider: "anthropic", weight: 0.2 }] },
      "vk-hybrid": { provider_configs: [{ provider: "vllm-local", weight: 0.9 }, { provider: "openai", weight: 0.1 }] },
      "vk-dev": { provider_configs: [{ provider: "ollama-local", weight: 1.0 }], rate_limit: { request_max_limit: 1000, request_reset_duration: "1h" } },
      "vk-prod": { provider_configs: [{ provider: "openai", weight: 0.7 }, { provider: "vllm-local", weight: 0.3 }] },
    };
    for (const [id, body] of Object.entries(bodies)) {
      const response = await admin("PUT", `/api/governance/virtual-keys/${id}`, body);
      expect(response.status, id).toBe(200);
      const { warnings } = (await response.json()) as { warnings: string[] };
      // Providers the tutorial configures elsewhere (cloud APIs) are named, not refused.
      if (JSON.stringify(body).includes("openai")) expect(warnings.join()).toContain("openai");
    }
    expect((await admin("GET", "/api/governance/virtual-keys/vk-premium")).status).toBe(200);
  });

  it("rejects unknown fields and invalid durations by name", async () => {
    let response = await admin("POST", "/api/governance/virtual-keys", { name: "x", budgets: [{ max_limit: 1, reset_duration: "1d", maxlimit: 2 }] });
    expect((await errorOf(response)).message).toContain("budgets[0].maxlimit");
    response = await admin("POST", "/api/governance/virtual-keys", { name: "x", budgets: [{ max_limit: 1, reset_duration: "1 day" }] });
    expect((await errorOf(response)).message).toContain("budgets[0].reset_duration");
    response = await admin("POST", "/api/governance/virtual-keys", { name: "x", budget: { max_limit: -1, reset_duration: "1d" } });
    expect(response.status).toBe(400);
  });
});

describe("config.json governance import", () => {
  it("refuses imported key values short enough to guess", async () => {
    const response = await admin("POST", "/api/config/import", { governance: { virtual_keys: [{ id: "vk-short", name: "short", value: "sk-bf-123" }] } });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).message).toContain("at least 24 characters");
  });

  it("imports virtual keys with their budgets and rate limits linked by id, keeping given values", async () => {
    const response = await admin("POST", "/api/config/import", {
      governance: {
        virtual_keys: [
          { id: "vk-imported", name: "imported", value: "sk-bf-imported-0001-0123456789ab", provider_configs: [{ id: 7, provider: "vllm", weight: 1, allowed_models: ["*"], rate_limit_id: "rl-pc" }], rate_limit_id: "rl-1" },
          { id: "vk-fresh", name: "fresh", provider_configs: [{ provider: "vllm" }], team_id: "team-1" },
        ],
        budgets: [
          { id: "b-1", max_limit: 5, reset_duration: "1M", virtual_key_id: "vk-imported" },
          { id: "b-2", max_limit: 1, reset_duration: "1d", provider_config_id: 7 },
        ],
        rate_limits: [
          { id: "rl-1", request_max_limit: 100, request_reset_duration: "1m" },
          { id: "rl-pc", token_max_limit: 50000, token_reset_duration: "1h" },
        ],
        teams: [{ id: "team-1", name: "Team One" }],
        routing_rules: [],
      },
    });
    expect(response.status, await response.clone().text()).toBe(200);
    const body = (await response.json()) as { virtual_keys: string[]; teams: string[]; generated_virtual_key_values: Record<string, string>; warnings: string[] };
    expect(body.virtual_keys).toEqual(["imported", "fresh"]);
    expect(body.teams).toEqual(["Team One"]);
    expect(body.generated_virtual_key_values.fresh).toMatch(/^sk-bf-/);
    expect(body.generated_virtual_key_values.imported).toBeUndefined();
    // The team came in with the keys; what the gateway does not support is named.
    expect(body.warnings).toEqual(["governance.routing_rules was not imported: the gateway does not support it"]);
    expect((await chat(`vllm/${LLAMA}`, { "x-bf-vk": "sk-bf-imported-0001-0123456789ab" })).status).toBe(200);
    const report = await quota("sk-bf-imported-0001-0123456789ab");
    expect(report.budgets.map((b) => b.max_limit).sort()).toEqual([1, 5]);
    expect(report.rate_limits.some((r) => r.requests?.max_limit === 100)).toBe(true);
    expect(report.rate_limits.some((r) => r.tokens?.max_limit === 50000)).toBe(true);
    expect((await chat(`vllm/${LLAMA}`, { "x-bf-vk": body.generated_virtual_key_values.fresh ?? "" })).status).toBe(200);
  });
});

describe("client authentication", () => {
  it("accepts x-bf-vk, Authorization: Bearer sk-bf-… and x-api-key", async () => {
    const key = await virtualKey("auth-key", { provider_configs: [{ provider: "vllm" }] });
    const variants: Record<string, string>[] = [{ "x-bf-vk": key }, { authorization: `Bearer ${key}` }, { "x-api-key": key }];
    for (const headers of variants) {
      expect((await chat(`vllm/${LLAMA}`, headers)).status).toBe(200);
    }
  });

  it("refuses unknown and malformed keys with 401", async () => {
    const variants: Record<string, string>[] = [{ "x-bf-vk": "sk-bf-00000000-0000-0000-0000-000000000000" }, { authorization: "Bearer sk-bf-nope" }, { "x-bf-vk": "x".repeat(300) }];
    for (const headers of variants) {
      const response = await chat(`vllm/${LLAMA}`, headers);
      expect(response.status).toBe(401);
      expect((await errorOf(response)).type).toBe("virtual_key_not_found");
    }
  });

  it("authenticates before reading the body, in each API's error shape", async () => {
    const bogus = { "x-bf-vk": "sk-bf-not-a-key" };
    const openai = await gateway("/v1/chat/completions", { method: "POST", headers: bogus, body: "{not json" });
    expect(openai.status).toBe(401);
    expect((await errorOf(openai)).type).toBe("virtual_key_not_found");
    const anthropic = await gateway("/anthropic/v1/messages", { method: "POST", headers: { "x-api-key": "sk-bf-not-a-key" }, body: "{not json" });
    expect(anthropic.status).toBe(401);
    expect(await anthropic.json()).toMatchObject({ type: "error", error: { type: "authentication_error" } });
  });

  it("does not let a flood of made-up keys turn into a flood of D1 queries", async () => {
    let d1Calls = 0;
    // Counts key lookups only (log rows for the refused requests are written to D1 too, in batches).
    const countingDb = new Proxy(env.DB, {
      get(target, prop) {
        if (prop !== "prepare") return Reflect.get(target, prop);
        return (query: string) => {
          if (query.includes("FROM virtual_keys")) d1Calls += 1;
          return target.prepare(query);
        };
      },
    });
    const app = buildApp();
    const responses = await Promise.all(
      Array.from({ length: 40 }, () =>
        app.fetch(new Request("http://gateway.test/v1/chat/completions", { method: "POST", headers: { "x-bf-vk": `sk-bf-${crypto.randomUUID()}` }, body: JSON.stringify({ model: `vllm/${LLAMA}`, messages: [] }) }), { ...env, DB: countingDb }),
      ),
    );
    expect(responses.every((response) => response.status === 401)).toBe(true);
    expect(d1Calls).toBeLessThanOrEqual(2);
  });

  it("requires a key when REQUIRE_VIRTUAL_KEY is true; a non-virtual bearer token is not one", async () => {
    const app = buildApp();
    const request = () => new Request("http://gateway.test/v1/chat/completions", { method: "POST", headers: { authorization: "Bearer sk-openai-placeholder" }, body: JSON.stringify({ model: `vllm/${LLAMA}`, messages: [] }) });
    const required = await app.fetch(request(), { ...env, REQUIRE_VIRTUAL_KEY: "true" });
    expect(required.status).toBe(401);
    expect((await errorOf(required)).code).toBe("virtual_key_required");
    expect((await app.fetch(request(), env)).status).toBe(200);
  });
});

describe("routing under a virtual key", () => {
  it("is deny-by-default: other providers and models are blocked", async () => {
    const key = await virtualKey("scoped", { provider_configs: [{ provider: "ollama-local", allowed_models: ["mistral"], weight: 1 }] });
    let response = await chat(`vllm/${LLAMA}`, { "x-bf-vk": key });
    expect(response.status).toBe(403);
    expect((await errorOf(response)).code).toBe("provider_blocked");
    response = await chat("ollama-local/llama3", { "x-bf-vk": key });
    expect(response.status).toBe(403);
    expect((await errorOf(response)).code).toBe("model_blocked");
    expect((await chat("ollama-local/mistral", { "x-bf-vk": key })).status).toBe(200);
    const empty = await virtualKey("empty", {});
    expect((await chat(`vllm/${LLAMA}`, { "x-bf-vk": empty })).status).toBe(403);
  });

  it("routes a bare model name by the provider configs' weights and filters the model list", async () => {
    const key = await virtualKey("unified", {
      provider_configs: [
        { provider: "vllm-local", allowed_models: [LLAMA], weight: 0.5 },
        { provider: "ollama-local", allowed_models: ["mistral"], weight: 0.3 },
      ],
    });
    const response = await chat("mistral", { "x-bf-vk": key });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-bf-provider")).toBe("ollama-local");
    expect(((await response.json()) as { model: string }).model).toBe("mistral");
    const models = (await (await gateway("/v1/models", { headers: { "x-bf-vk": key } })).json()) as { data: { id: string }[] };
    const ids = models.data.map((m) => m.id).sort();
    expect(ids).toEqual([`ollama-local/mistral`, `vllm-local/${LLAMA}`]);
  });
});

describe("quota", () => {
  it("reports every limit to the key itself and refuses callers without one", async () => {
    const key = await virtualKey("quota-key", {
      provider_configs: [{ provider: "vllm" }],
      budgets: [{ max_limit: 10, reset_duration: "1M" }],
      rate_limit: { request_max_limit: 100, request_reset_duration: "1h", token_max_limit: 100000, token_reset_duration: "1d" },
      max_concurrent_requests: 4,
    });
    await chat(`vllm/${LLAMA}`, { "x-bf-vk": key });
    const report = await quota(key);
    expect(report.is_active).toBe(true);
    expect(report.budgets[0]).toMatchObject({ max_limit: 10 });
    expect(report.rate_limits[0]?.requests).toMatchObject({ current_usage: 1, max_limit: 100 });
    expect(report.concurrency.max_concurrent_requests).toBe(4);
    // Bifrost's flat rate_limit of the key's own windows, beside the full rate_limits.
    const tokenWindow = report.rate_limits[0]?.tokens;
    const requestWindow = report.rate_limits[0]?.requests;
    expect(tokenWindow?.current_usage).toBe(11);
    expect(report.rate_limit).toEqual({
      token_max_limit: 100000, token_current_usage: 11, token_reset_duration: "1d", token_last_reset: tokenWindow?.last_reset,
      request_max_limit: 100, request_current_usage: 1, request_reset_duration: "1h", request_last_reset: requestWindow?.last_reset,
      calendar_aligned: false,
    });
    const unlimited = await virtualKey("quota-no-rate-limit", { provider_configs: [{ provider: "vllm" }] });
    expect((await quota(unlimited)).rate_limit).toBeNull();
    const missing = await gateway("/api/governance/virtual-keys/quota");
    expect(missing.status).toBe(401);
    expect((await errorOf(missing)).message).toContain("Missing virtual key");
  });
});

describe("what scripts moved over from Bifrost send", () => {
  interface Config {
    id: string;
    provider: string;
    key_ids: string[] | null;
  }
  const configsOf = async (id: string) => ((await (await admin("GET", `/api/governance/virtual-keys/${id}`)).json()) as { virtual_key: { provider_configs: Config[] } }).virtual_key.provider_configs;

  it("takes provider config ids as Bifrost's integers, and updates the config an id names", async () => {
    const body = { name: "numeric-ids", provider_configs: [{ id: 1, provider: "vllm", weight: 0.5, allowed_models: ["*"] }] };
    expect((await admin("PUT", "/api/governance/virtual-keys/numeric-ids", body)).status).toBe(200);
    expect((await configsOf("numeric-ids")).map((config) => config.id)).toEqual(["1"]);
    const updated = await admin("PUT", "/api/governance/virtual-keys/numeric-ids", { provider_configs: [{ id: 1, provider: "vllm", weight: 1, key_ids: ["local"] }] });
    expect(updated.status).toBe(200);
    expect(await configsOf("numeric-ids")).toMatchObject([{ id: "1", provider: "vllm", key_ids: ["local"] }]);
  });

  it("reads allow_all_keys: true allows every key, false only the listed ones", async () => {
    const body = (allow: boolean, keyIds?: string[]) => ({ provider_configs: [{ provider: "vllm", weight: 1, allow_all_keys: allow, ...(keyIds ? { key_ids: keyIds } : {}) }] });
    expect((await admin("PUT", "/api/governance/virtual-keys/all-keys", { name: "all-keys", ...body(true, ["local"]) })).status).toBe(200);
    expect((await configsOf("all-keys"))[0]?.key_ids).toBeNull();
    expect((await admin("PUT", "/api/governance/virtual-keys/all-keys", body(false))).status).toBe(200);
    expect((await configsOf("all-keys"))[0]?.key_ids).toEqual([]);
    expect((await admin("PUT", "/api/governance/virtual-keys/all-keys", body(false, ["local"]))).status).toBe(200);
    expect((await configsOf("all-keys"))[0]?.key_ids).toEqual(["local"]);
  });

  it("aligns only the budgets that can be aligned under the deprecated key-wide calendar_aligned, and writes them back", async () => {
    const created = await admin("PUT", "/api/governance/virtual-keys/key-wide-calendar", {
      name: "key-wide-calendar",
      calendar_aligned: true,
      budgets: [{ max_limit: 1, reset_duration: "1h" }, { max_limit: 5, reset_duration: "1M" }],
    });
    expect(created.status, await created.clone().text()).toBe(200);
    const { budgets } = ((await (await admin("GET", "/api/governance/virtual-keys/key-wide-calendar")).json()) as { virtual_key: { budgets: { reset_duration: string; calendar_aligned: boolean }[] } }).virtual_key;
    expect(budgets.map((budget) => [budget.reset_duration, budget.calendar_aligned])).toEqual([["1h", false], ["1M", true]]);
    expect((await admin("PUT", "/api/governance/virtual-keys/key-wide-calendar", { budgets })).status).toBe(200);
    // A rate limit said to be aligned must have windows that can be, as a budget must.
    const rolling = await admin("PUT", "/api/governance/virtual-keys/key-wide-calendar", { rate_limit: { request_max_limit: 5, request_reset_duration: "1m", calendar_aligned: true } });
    expect(rolling.status).toBe(400);
    expect((await errorOf(rolling)).message).toContain("calendar_aligned needs reset durations of 1d, 1w, 1M or 1Y");
  });

  it("accepts an empty mcp_configs and refuses a grant it could not honour", async () => {
    expect((await admin("PUT", "/api/governance/virtual-keys/mcp-empty", { name: "mcp-empty", provider_configs: [{ provider: "vllm" }], mcp_configs: [] })).status).toBe(200);
    const granted = await admin("PUT", "/api/governance/virtual-keys/mcp-granted", { name: "mcp-granted", mcp_configs: [{ mcp_client_name: "x", tools_to_execute: ["*"] }] });
    expect(granted.status).toBe(400);
    expect((await errorOf(granted)).message).toContain("mcp_configs must be empty: the gateway runs no MCP tools");
  });

  it("warns about key_ids that name no key of their provider", async () => {
    const created = await admin("PUT", "/api/governance/virtual-keys/typo-keys", { name: "typo-keys", provider_configs: [{ provider: "vllm", key_ids: ["local", "lcoal"] }] });
    expect(created.status).toBe(200);
    const { warnings } = (await created.json()) as { warnings: string[] };
    expect(warnings).toEqual(["key_ids of provider 'vllm' name 'lcoal', which no key of that provider is: requests through it can use only the keys that exist"]);
  });

  it("brings page sizes into 1–100 and sorts by name, creation or update, either way", async () => {
    const page = async (query: string) => (await (await admin("GET", `/api/governance/virtual-keys?${query}`)).json()) as { limit: number; virtual_keys: { name: string }[] };
    expect((await page("limit=500")).limit).toBe(100);
    expect((await page("limit=0")).limit).toBe(25);
    expect((await page("limit=-3")).limit).toBe(25);
    // Three keys made out of name order: sorted by name, exactly that order each way.
    for (const name of ["sortable-b", "sortable-c", "sortable-a"]) expect((await admin("PUT", `/api/governance/virtual-keys/${name}`, { name })).status).toBe(200);
    const sorted = async (query: string) => (await page(`search=sortable-&${query}`)).virtual_keys.map((key) => key.name);
    expect(await sorted("sort_by=name&order=desc")).toEqual(["sortable-c", "sortable-b", "sortable-a"]);
    expect(await sorted("sort_by=name&order=asc")).toEqual(["sortable-a", "sortable-b", "sortable-c"]);
    // Times may tie within a millisecond (ties go by id), so these are checked as the same three keys.
    for (const query of ["sort_by=created_at&order=desc", "sort_by=updated_at&order=asc", ""]) expect((await sorted(query)).sort()).toEqual(["sortable-a", "sortable-b", "sortable-c"]);
    expect((await admin("GET", "/api/governance/virtual-keys?sort_by=value")).status).toBe(400);
  });

  it("lists every key when the query asks for no page, as Bifrost does", async () => {
    for (let i = 0; i < 30; i += 1) expect((await admin("PUT", `/api/governance/virtual-keys/many-${i}`, { name: `many-${i}` })).status).toBe(200);
    const all = (await (await admin("GET", "/api/governance/virtual-keys")).json()) as { virtual_keys: unknown[]; count: number; total_count: number; limit: number };
    expect(all.total_count).toBeGreaterThanOrEqual(30);
    expect(all.virtual_keys).toHaveLength(all.total_count);
    expect([all.count, all.limit]).toEqual([all.total_count, all.total_count]);
    // Sorting alone asks for no page either; a search or a limit does, 25 by default.
    expect(((await (await admin("GET", "/api/governance/virtual-keys?sort_by=name")).json()) as { count: number }).count).toBe(all.total_count);
    expect(((await (await admin("GET", "/api/governance/virtual-keys?search=many-")).json()) as { count: number; total_count: number })).toMatchObject({ count: 25, total_count: 30 });
  });

  it("stops a key at its expires_at, as Bifrost does, and starts it again when the time is moved or cleared", async () => {
    const past = new Date(Date.now() - 60_000).toISOString();
    const key = await virtualKey("expiring", { provider_configs: [{ provider: "vllm" }], expires_at: "2099-01-01T00:00:00+01:00" });
    const read = async () => ((await (await admin("GET", "/api/governance/virtual-keys/expiring")).json()) as { virtual_key: { expires_at: string | null } }).virtual_key;
    // Kept as the ISO time of the instant given.
    expect((await read()).expires_at).toBe("2098-12-31T23:00:00.000Z");
    expect((await chat(`vllm/${LLAMA}`, { "x-bf-vk": key })).status).toBe(200);
    expect((await admin("PUT", "/api/governance/virtual-keys/expiring", { expires_at: past })).status).toBe(200);
    const refused = await chat(`vllm/${LLAMA}`, { "x-bf-vk": key });
    expect(refused.status).toBe(401);
    expect(await errorOf(refused)).toMatchObject({ code: "virtual_key_expired", message: `virtual key 'expiring' expired at ${past}` });
    // Its quota route and ephemeral tokens go with it.
    expect((await gateway("/api/governance/virtual-keys/quota", { headers: { "x-bf-vk": key } })).status).toBe(401);
    expect((await admin("PUT", "/api/governance/virtual-keys/expiring", { expires_at: null })).status).toBe(200);
    expect((await read()).expires_at).toBeNull();
    expect((await chat(`vllm/${LLAMA}`, { "x-bf-vk": key })).status).toBe(200);
    for (const bad of ["tomorrow", "2027-02-30T00:00:00Z", "2027-01-01"]) {
      const response = await admin("PUT", "/api/governance/virtual-keys/expiring", { expires_at: bad });
      expect(response.status, bad).toBe(400);
      expect((await errorOf(response)).param, bad).toBe("expires_at");
    }
  });

  it("refuses the models a provider config blacklists, whatever allowed_models allows", async () => {
    const key = await virtualKey("blacklisting", { provider_configs: [{ provider: "vllm", weight: 1, allowed_models: ["*"], blacklisted_models: [`vllm/${LLAMA}`] }] });
    const refused = await chat(`vllm/${LLAMA}`, { "x-bf-vk": key });
    expect(refused.status).toBe(403);
    expect(await errorOf(refused)).toMatchObject({ code: "model_blocked", message: `virtual key 'blacklisting' may not use model '${LLAMA}' of provider 'vllm'` });
    // A bare name finds no provider config that may serve it.
    const bare = await chat(LLAMA, { "x-bf-vk": key });
    expect(bare.status).toBe(400);
    expect((await errorOf(bare)).code).toBe("provider_required");
    expect((await chat("vllm/spare-model", { "x-bf-vk": key })).status).toBe(200);
    const { virtual_key: read } = (await (await admin("GET", "/api/governance/virtual-keys/blacklisting")).json()) as { virtual_key: { provider_configs: { blacklisted_models: string[] }[] } };
    expect(read.provider_configs[0]?.blacklisted_models).toEqual([`vllm/${LLAMA}`]);
  });

  it("puts every budget's spend back to zero on reset_budget_usage, as Bifrost does, and keeps counting after", async () => {
    const key = await virtualKey("budget-reset", { provider_configs: [{ provider: "vllm" }], budgets: [{ max_limit: 1, reset_duration: "1d" }, { max_limit: 5, reset_duration: "1M" }] });
    expect((await chat(`vllm/${LLAMA}`, { "x-bf-vk": key })).status).toBe(200);
    // "hi": 8 prompt tokens at $0.10 and 3 completion tokens at $0.20 per 1M.
    const ONE_REQUEST = 0.0000014;
    expect((await quota(key)).budgets.map((budget) => budget.current_usage)).toEqual([ONE_REQUEST, ONE_REQUEST]);
    const reset = await admin("PUT", "/api/governance/virtual-keys/budget-reset", { reset_budget_usage: true });
    expect(reset.status).toBe(200);
    expect((await quota(key)).budgets.map((budget) => budget.current_usage)).toEqual([0, 0]);
    expect((await chat(`vllm/${LLAMA}`, { "x-bf-vk": key })).status).toBe(200);
    expect((await quota(key)).budgets.map((budget) => budget.current_usage)).toEqual([ONE_REQUEST, ONE_REQUEST]);
    // Not a setting of the key: reading it back shows no such field.
    expect(JSON.stringify(await (await admin("GET", "/api/governance/virtual-keys/budget-reset")).json())).not.toContain("reset_budget_usage");
  });
});
