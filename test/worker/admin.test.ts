/** The admin API: auth, provider and key CRUD, masking, strict validation, config.json import, the seed examples. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { forgetCachedConfig } from "../../src/config/store";
import { ADMIN, admin, errorOf, gateway, origin, postJson } from "./helpers";

const SECRET = "sk-origin-0123456789abcdef";

describe("admin auth", () => {
  it("is closed without the admin token", async () => {
    expect((await gateway("/api/providers")).status).toBe(401);
    const wrong = await gateway("/api/providers", { headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
    expect((await errorOf(wrong)).code).toBe("invalid_admin_token");
  });

  it("is disabled when no ADMIN_TOKEN is configured, except for loopback with the local switch", async () => {
    const app = buildApp();
    const noToken = { ...env, ADMIN_TOKEN: undefined };
    const closed = await app.fetch(new Request("http://gateway.test/api/providers"), noToken);
    expect(closed.status).toBe(403);
    expect((await errorOf(closed)).code).toBe("admin_disabled");
    const localOnly = { ...noToken, LOCAL_ADMIN_WITHOUT_TOKEN: "true" };
    expect((await app.fetch(new Request("http://gateway.example.com/api/providers"), localOnly)).status).toBe(403);
    expect((await app.fetch(new Request("http://localhost:8080/api/providers"), localOnly)).status).toBe(200);
  });
});

describe("providers and keys", () => {
  it("creates, reads, updates and deletes a provider with masked secrets", async () => {
    const created = await admin("POST", "/api/providers", {
      provider: "vllm",
      keys: [{ name: "gpu-a", value: SECRET, models: ["*"], vllm_key_config: { url: origin("auth") } }],
    });
    expect(created.status).toBe(200);
    const body = (await created.json()) as { keys: { id: string; value: string }[] };
    const keyId = body.keys[0]?.id as string;
    expect(body.keys[0]?.value).not.toContain("0123456789");
    expect(JSON.stringify(body)).not.toContain(SECRET);

    expect((await admin("POST", "/api/providers", { provider: "vllm", keys: [] })).status).toBe(409);

    const listed = (await (await admin("GET", "/api/providers")).json()) as { providers: { name: string }[]; total: number };
    expect(listed.providers.map((p) => p.name)).toContain("vllm");
    expect(JSON.stringify(listed)).not.toContain(SECRET);

    // The key's secret reaches the origin as a bearer token.
    const chat = await postJson("/v1/chat/completions", { model: "vllm/meta-llama/Llama-3.2-1B-Instruct", messages: [] });
    // The origin wants a different token: that failure is the gateway's configuration, not the client's credentials.
    expect(chat.status).toBe(502);
    expect((await errorOf(chat)).code).toBe("upstream_auth_failed");

    // A masked value sent back keeps the stored secret; a new value replaces it.
    const masked = body.keys[0]?.value;
    let updated = await admin("PUT", `/api/providers/vllm/keys/${keyId}`, { value: masked, weight: 2 });
    expect(updated.status).toBe(200);
    updated = await admin("PUT", `/api/providers/vllm/keys/${keyId}`, { value: "env.ORIGIN_TOKEN" });
    expect(((await updated.json()) as { value: string; weight: number })).toMatchObject({ value: "env.ORIGIN_TOKEN", weight: 2 });
    const ok = await postJson("/v1/chat/completions", { model: "vllm/meta-llama/Llama-3.2-1B-Instruct", messages: [] });
    expect(ok.status).toBe(200);

    const keys = (await (await admin("GET", "/api/providers/vllm/keys")).json()) as { keys: unknown[]; total: number };
    expect(keys.total).toBe(1);
    const added = await admin("POST", "/api/providers/vllm/keys", { name: "gpu-b", models: ["x"], vllm_key_config: { url: origin("default") } });
    expect(added.status).toBe(200);
    expect((await admin("DELETE", "/api/providers/vllm/keys/gpu-b")).status).toBe(200);
    expect((await admin("GET", "/api/providers/vllm/keys/gpu-b")).status).toBe(404);

    expect((await admin("DELETE", "/api/providers/vllm")).status).toBe(200);
    expect((await admin("GET", "/api/providers/vllm")).status).toBe(404);
    expect((await postJson("/v1/chat/completions", { model: "vllm/x", messages: [] })).status).toBe(400);
  });

  it("takes back what it answers: a provider and a virtual key as GET shows them, PUT unchanged", async () => {
    const created = await admin("POST", "/api/providers", {
      provider: "round-trip",
      keys: [{ name: "k", value: SECRET, models: ["*"] }],
      network_config: { base_url: origin("default"), default_request_timeout_in_seconds: 30 },
      custom_provider_config: { base_provider_type: "openai" },
    });
    expect(created.status).toBe(200);
    const shown = (await (await admin("GET", "/api/providers/round-trip")).json()) as Record<string, unknown>;
    expect([shown.name, shown.provider_status]).toEqual(["round-trip", "active"]);
    const put = await admin("PUT", "/api/providers/round-trip", shown);
    expect(put.status, await put.clone().text()).toBe(200);
    const { warnings: _warnings, ...after } = (await put.json()) as Record<string, unknown>;
    expect(after).toEqual(shown);
    const renamed = await admin("PUT", "/api/providers/round-trip", { ...shown, name: "elsewhere" });
    expect([renamed.status, (await errorOf(renamed)).code]).toEqual([400, "provider_mismatch"]);

    const key = await admin("POST", "/api/governance/virtual-keys", { name: "round-trip-key", provider_configs: [{ provider: "round-trip", weight: 1 }] });
    expect(key.status).toBe(200);
    const { virtual_key: record } = (await key.json()) as { virtual_key: { id: string; provider_configs: { key_ids: unknown }[] } };
    expect(record.provider_configs[0]?.key_ids).toBeNull();
    const read = (await (await admin("GET", `/api/governance/virtual-keys/${record.id}`)).json()) as { virtual_key: Record<string, unknown> };
    const back = await admin("PUT", `/api/governance/virtual-keys/${record.id}`, read.virtual_key);
    expect(back.status, await back.clone().text()).toBe(200);
    expect(((await back.json()) as { virtual_key: { provider_configs: { key_ids: unknown }[] } }).virtual_key.provider_configs[0]?.key_ids).toBeNull();
    // The key's own id and value may be repeated, never changed.
    for (const [path, body, param] of [
      [`/api/governance/virtual-keys/${record.id}`, { ...read.virtual_key, value: "sk-bf-chosen" }, "value"],
      [`/api/governance/virtual-keys/${record.id}`, { ...read.virtual_key, id: "other" }, "id"],
    ] as const) {
      const refused = await admin("PUT", path, body);
      expect([refused.status, (await errorOf(refused)).param]).toEqual([400, param]);
    }
    const copied = await admin("POST", "/api/governance/virtual-keys", { ...read.virtual_key, name: "copy" });
    expect([copied.status, (await errorOf(copied)).param]).toEqual([400, "id"]);
    expect((await admin("DELETE", `/api/governance/virtual-keys/${record.id}`)).status).toBe(200);
    expect((await admin("DELETE", "/api/providers/round-trip")).status).toBe(200);
  });

  it("rejects unknown fields with a 400 that names them", async () => {
    const response = await admin("POST", "/api/providers", {
      provider: "vllm",
      keys: [{ name: "k", vllm_key_config: { url: origin(), modle_name: "typo" }, wieght: 1 }],
      netwrk_config: {},
    });
    expect(response.status).toBe(400);
    const { message } = await errorOf(response);
    expect(message).toContain("netwrk_config");
    expect(message).toContain("keys[0].wieght");
    expect(message).toContain("keys[0].vllm_key_config.modle_name");
  });

  it("refuses a key with no origin URL and an unknown provider type without custom config", async () => {
    let response = await admin("POST", "/api/providers", { provider: "vllm", keys: [{ name: "no-url" }] });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).message).toContain("has no origin URL");
    response = await admin("POST", "/api/providers", { provider: "my-box", keys: [{ name: "k" }], network_config: { base_url: origin() } });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).message).toContain("custom_provider_config");
    response = await admin("POST", "/api/providers", { provider: "bedrock", keys: [] });
    expect(response.status).toBe(400);
  });

  it("reports accepted Bifrost fields that have no effect as warnings", async () => {
    const response = await admin("PUT", "/api/providers/vllm", {
      keys: [{ name: "k", vllm_key_config: { url: origin() } }],
      concurrency_and_buffer_size: { concurrency: 1000, buffer_size: 5000 },
      network_config: { max_conns_per_host: 100 },
    });
    expect(response.status).toBe(200);
    const { warnings } = (await response.json()) as { warnings: string[] };
    expect(warnings.join("\n")).toContain("concurrency_and_buffer_size");
    expect(warnings.join("\n")).toContain("max_conns_per_host");
  });
});

describe("secrets at rest", () => {
  it("keeps literal key values encrypted in D1 and KV when CONFIG_ENCRYPTION_KEY is set, and uses them", async () => {
    const sealedEnv = { ...env, CONFIG_ENCRYPTION_KEY: "a-test-encryption-key-of-enough-length" };
    const app = buildApp();
    const call = (method: string, path: string, body?: unknown) =>
      app.fetch(new Request(`http://gateway.test${path}`, { method, headers: ADMIN, body: body === undefined ? undefined : JSON.stringify(body) }), sealedEnv);
    const created = await call("PUT", "/api/providers/sealed", {
      keys: [{ name: "k", value: "origin-secret-token", models: ["*"], vllm_key_config: { url: origin("auth") } }],
      network_config: { base_url: origin("auth") },
      custom_provider_config: { base_provider_type: "openai" },
    });
    expect(created.status).toBe(200);
    const row = await env.DB.prepare("SELECT config FROM provider_keys WHERE provider = 'sealed'").first<string>("config");
    expect(row).toContain("enc:v1:");
    expect(row).not.toContain("origin-secret-token");
    expect(await env.CONFIG_KV.get("config/providers-snapshot")).not.toContain("origin-secret-token");
    const listed = await (await call("GET", "/api/providers/sealed")).text();
    expect(listed).not.toContain("origin-secret-token");
    expect(listed).not.toContain("enc:v1:");
    const chat = await app.fetch(new Request("http://gateway.test/v1/chat/completions", { method: "POST", body: JSON.stringify({ model: "sealed/meta-llama/Llama-3.2-1B-Instruct", messages: [] }) }), sealedEnv);
    expect(chat.status).toBe(200);
    // An isolate without the key cannot open the value, and says so instead of sending it.
    forgetCachedConfig();
    const unopened = await app.fetch(new Request("http://gateway.test/v1/chat/completions", { method: "POST", body: JSON.stringify({ model: "sealed/meta-llama/Llama-3.2-1B-Instruct", messages: [] }) }), env);
    expect(unopened.status).toBe(502);
    // Which setting is missing is for the operator's logs, not the client.
    const { message } = await errorOf(unopened);
    expect(message).toContain("cannot be used: its configuration on the gateway is incomplete");
    expect(message).not.toContain("CONFIG_ENCRYPTION_KEY");
    forgetCachedConfig();
  });
});

describe("seed examples", () => {
  it("accepts the tutorial's custom-provider calls and routes vllm-local/<model>", async () => {
    for (const provider of ["vllm-local", "ollama-local"]) {
      const response = await gateway("/api/providers", {
        method: "POST",
        headers: ADMIN,
        body: JSON.stringify({
          provider,
          keys: [{ name: `${provider}-key-1`, value: "dummy", weight: 1.0 }],
          network_config: { base_url: origin(provider), default_request_timeout_in_seconds: 60 },
          custom_provider_config: { base_provider_type: "openai", allowed_requests: { chat_completion: true, chat_completion_stream: true } },
        }),
      });
      expect(response.status, await response.clone().text()).toBe(200);
    }
    const chat = await postJson("/v1/chat/completions", { model: "vllm-local/meta-llama/Llama-3.2-1B-Instruct", messages: [{ role: "user", content: "Hello!" }] });
    expect(chat.status).toBe(200);
    const embeddings = await postJson("/v1/embeddings", { model: "ollama-local/BAAI/bge-m3", input: "x" });
    expect((await errorOf(embeddings)).code).toBe("unsupported_operation");
  });

  it("imports the vLLM guide's config.json and reports sections it does not take", async () => {
    const response = await admin("POST", "/api/config/import", {
      providers: {
        vllm: {
          keys: [
            {
              name: "vllm-local",
              value: "",
              models: ["meta-llama/Llama-3.2-1B-Instruct"],
              weight: 1.0,
              vllm_key_config: { url: origin(), model_name: "meta-llama/Llama-3.2-1B-Instruct" },
            },
          ],
        },
      },
      client: { drop_excess_requests: false },
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { imported: string[]; warnings: string[] };
    expect(body.imported).toEqual(["vllm"]);
    expect(body.warnings.join()).toContain("client");
    const chat = await postJson("/v1/chat/completions", { model: "vllm/meta-llama/Llama-3.2-1B-Instruct", messages: [{ role: "user", content: "Hello" }] });
    expect(chat.status).toBe(200);
    const exported = (await (await admin("GET", "/api/config")).json()) as { providers: Record<string, unknown> };
    expect(Object.keys(exported.providers)).toContain("vllm");
  });

  it("keeps a key's id when the same config.json, whose keys carry no ids, is imported again", async () => {
    const file = { providers: { "reimported": { keys: [{ name: "gpu-a", models: ["*"], vllm_key_config: { url: origin() } }], network_config: { base_url: origin() }, custom_provider_config: { base_provider_type: "openai" } } } };
    const idOf = async () => ((await (await admin("GET", "/api/providers/reimported/keys")).json()) as { keys: { id: string; name: string }[] }).keys.map((key) => [key.name, key.id]);
    expect((await admin("POST", "/api/config/import", file)).status).toBe(200);
    const first = await idOf();
    expect(first).toHaveLength(1);
    expect((await admin("POST", "/api/config/import", file)).status).toBe(200);
    expect(await idOf()).toEqual(first);
  });

  it("rejects an import with an invalid provider without writing anything", async () => {
    const response = await admin("POST", "/api/config/import", {
      providers: { good: { keys: [], network_config: { base_url: origin() }, custom_provider_config: { base_provider_type: "openai" } }, vllm: { keys: [{ name: "x" }] } },
    });
    expect(response.status).toBe(400);
    expect((await admin("GET", "/api/providers/good")).status).toBe(404);
    expect((await admin("POST", "/api/config/import", { providers: {}, unknown_section: 1 })).status).toBe(400);
  });
});
