/** GET /api/config/export gives the whole configuration as a config.json that imports back to the same state. */
import { describe, expect, it } from "vitest";
import { LLAMA, admin, origin } from "./helpers";

async function ok(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await admin(method, path, body);
  expect(response.status, `${method} ${path}: ${await response.clone().text()}`).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

/** What the admin API shows of everything the export covers, without the times an import moves on. */
async function state(): Promise<unknown> {
  const withoutTimes = (value: unknown): unknown => JSON.parse(JSON.stringify(value, (key, inner: unknown) => (key === "updated_at" || key === "created_at" ? undefined : inner)));
  return withoutTimes({
    providers: await ok("GET", "/api/config"),
    key: await ok("GET", "/api/governance/virtual-keys/exported-key"),
    team: await ok("GET", "/api/governance/teams/exported-team"),
    customer: await ok("GET", "/api/governance/customers/exported-customer"),
    overrides: await ok("GET", "/api/governance/pricing-overrides"),
  });
}

describe("the configuration export", () => {
  it("imports back to the same providers, keys, teams, customers, limits and prices, and carries no key value", async () => {
    await ok("POST", "/api/config/import", { providers: { vllm: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin() }, aliases: { small: LLAMA } }] } } });
    await ok("PUT", "/api/governance/customers/exported-customer", { name: "Exported customer", budget: { max_limit: 100, reset_duration: "1M", calendar_aligned: true } });
    await ok("PUT", "/api/governance/teams/exported-team", { name: "Exported team", customer_id: "exported-customer", budgets: [{ max_limit: 10, reset_duration: "1d" }], rate_limit: { request_max_limit: 50, request_reset_duration: "1h" }, lease_share: 0.1 });
    await ok("POST", "/api/governance/pricing-overrides", { scope_kind: "provider", provider: "vllm", match_type: "wildcard", pattern: "*", input_price_per_million: 0.1, output_price_per_million: 0.2 });
    const created = (await ok("PUT", "/api/governance/virtual-keys/exported-key", {
      name: "exported-key",
      description: "round trip",
      team_id: "exported-team",
      expires_at: "2099-01-01T00:00:00Z",
      budgets: [{ max_limit: 1, reset_duration: "1d" }],
      rate_limit: { token_max_limit: 10_000, token_reset_duration: "1h" },
      provider_configs: [{ provider: "vllm", weight: 1, allowed_models: ["*"], blacklisted_models: ["vllm/spare-model"], budgets: [{ max_limit: 0.5, reset_duration: "1w" }], rate_limit: { request_max_limit: 5, request_reset_duration: "1m" } }],
      allowed_origins: ["https://app.example.com"],
      max_concurrent_requests: 4,
      response_cache: { ttl_seconds: 60 },
      lease_share: 0.05,
    })) as { virtual_key: { value: string } };
    const before = await state();
    const exported = await ok("GET", "/api/config/export");
    expect(JSON.stringify(exported)).not.toContain(created.virtual_key.value);
    const governance = exported.governance as { virtual_keys: Record<string, unknown>[]; budgets: unknown[]; rate_limits: unknown[] };
    expect(governance.virtual_keys.map((key) => key.name)).toEqual(["exported-key"]);
    // The key's own budget and its provider config's; the key's, its provider config's and the team's rate limits.
    expect(governance.budgets).toHaveLength(2);
    expect(governance.rate_limits).toHaveLength(3);
    const imported = await ok("POST", "/api/config/import", exported);
    expect(imported.warnings).toEqual([]);
    expect(imported.generated_virtual_key_values).toEqual({});
    expect(await state()).toEqual(before);
  });
});
