/**
 * What Bifrost itself writes — its config export, its API's and dashboard's shapes, version 1 files, env references
 * for virtual-key values, inline team and customer budgets — imports without rewriting: each field is used, or
 * reported as not used, never silently dropped.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { LLAMA, admin, errorOf, origin, postJson } from "./helpers";

interface ImportAnswer {
  virtual_keys: string[];
  warnings: string[];
}

const SECRET_IN_ENV = "sk-bf-held-in-a-worker-secret-0123456789";

/** The gateway with one more Worker secret than the tests' environment has. */
async function withSecret(path: string, init: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await buildApp().fetch(new Request(`http://gateway.test${path}`, init), Object.assign({ VK_FROM_ENV: SECRET_IN_ENV }, env), ctx);
  const body = await response.text();
  await waitOnExecutionContext(ctx);
  return new Response(body, { status: response.status, headers: response.headers });
}

const importWithSecret = (file: unknown) =>
  withSecret("/api/config/import", { method: "POST", headers: { authorization: "Bearer test-admin-token", "content-type": "application/json" }, body: JSON.stringify(file) });

async function imported(file: unknown): Promise<ImportAnswer> {
  const response = await admin("POST", "/api/config/import", file);
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as ImportAnswer;
}

/** A custom OpenAI-compatible provider, as Bifrost's files declare one. */
const custom = (keys: unknown[]) => ({ keys, custom_provider_config: { base_provider_type: "openai" }, network_config: { base_url: origin() } });

const chat = (model: string, headers: Record<string, string> = {}) => postJson("/v1/chat/completions", { model, messages: [{ role: "user", content: "hi" }] }, headers);

describe("importing what Bifrost writes", () => {
  it("reads a virtual key's env.NAME value from the Worker secret it names, and never takes the reference for the credential", async () => {
    const answer = await importWithSecret({
      providers: { "bf-env": custom([{ name: "k", value: "", models: ["*"] }]) },
      governance: { virtual_keys: [{ id: "vk-from-env", name: "from-env", value: "env.VK_FROM_ENV", provider_configs: [{ provider: "bf-env", weight: 1 }] }] },
    });
    expect(answer.status, await answer.clone().text()).toBe(200);
    const asKey = (value: string) => withSecret("/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json", "x-bf-vk": value }, body: JSON.stringify({ model: `bf-env/${LLAMA}`, messages: [{ role: "user", content: "hi" }] }) });
    expect((await asKey(SECRET_IN_ENV)).status).toBe(200);
    const byReference = await asKey("env.VK_FROM_ENV");
    expect(byReference.status).toBe(401);
    const refusals: [string, string][] = [
      ["env.VK_NOT_SET", "env.VK_NOT_SET, which is not set"],
      ["env.ORIGIN_TOKEN", "which must hold 24 to 256 characters"],
      ["env.ADMIN_TOKEN", "ADMIN_TOKEN is one of the gateway's own settings"],
      ["vault.secret/data/vk", "vault references are not supported"],
    ];
    for (const [value, says] of refusals) {
      const refused = await importWithSecret({ governance: { virtual_keys: [{ id: `vk-refused-${value.length}`, name: "refused", value }] } });
      expect(refused.status, value).toBe(400);
      expect((await errorOf(refused)).message).toContain(says);
    }
    // Refused before anything was written.
    expect((await admin("GET", "/api/governance/virtual-keys/vk-refused-14")).status).toBe(404);
  });

  it("keeps a customer's inline budgets and calendar alignment, and names the team fields it does not use", async () => {
    const answer = await imported({
      governance: {
        customers: [{ id: "cust-inline", name: "Inline", calendar_aligned: true, budgets: [{ max_limit: 100, reset_duration: "1M" }, { max_limit: 5, reset_duration: "1d", calendar_aligned: false }] }],
        teams: [{ id: "team-profiled", name: "Profiled", customer_id: "cust-inline", profile: { color: "blue" }, claims: { group: "ml" } }],
      },
    });
    expect(answer.warnings).toContain("team 'Profiled': profile, claims were not imported: the gateway does not use them");
    const { customer } = (await (await admin("GET", "/api/governance/customers/cust-inline")).json()) as { customer: { budgets: { max_limit: number; reset_duration: string; calendar_aligned: boolean }[] } };
    expect(customer.budgets.map(({ max_limit, reset_duration, calendar_aligned }) => ({ max_limit, reset_duration, calendar_aligned }))).toEqual([
      { max_limit: 100, reset_duration: "1M", calendar_aligned: true },
      { max_limit: 5, reset_duration: "1d", calendar_aligned: false },
    ]);
    const unknown = await admin("POST", "/api/config/import", { governance: { teams: [{ id: "team-x", name: "X", colour: "red" }] } });
    expect(unknown.status).toBe(400);
    expect((await errorOf(unknown)).message).toContain("colour");
  });

  it("imports Bifrost's own export: its extra sections, network settings, request flags and database rows", async () => {
    const answer = await imported({
      source_of_truth: "database",
      server: { port: 8080 },
      circuit_breaker_config: { enabled: true },
      providers: {
        "bf-export": {
          keys: [{ name: "k1", id: "key-one", value: { value: "", env_var: "", from_env: false }, models: ["*"], weight: 1, vllm_key_config: { url: { value: origin(), env_var: "", from_env: false } } }],
          network_config: { allow_private_network: true, keep_alive_timeout_in_seconds: 30, http2_ping_interval_in_seconds: 0 },
          custom_provider_config: { base_provider_type: "openai", allowed_requests: { chat_completion: true, responses_retrieve: true, batch_delete: false, container_file_list: false, cached_content_create: false } },
        },
      },
      governance: {
        virtual_keys: [
          {
            id: "vk-exported",
            name: "exported",
            config_hash: "abc",
            expires_at: "2099-01-01T00:00:00Z",
            created_at: "2026-01-01T00:00:00Z",
            updated_at: "2026-01-02T00:00:00Z",
            provider_configs: [{ id: 7, virtual_key_id: "vk-exported", provider: "bf-export", weight: 1, allow_all_keys: false, keys: [{ key_id: "key-one", name: "k1" }], created_at: "2026-01-01T00:00:00Z" }],
          },
        ],
      },
    });
    expect(answer.virtual_keys).toEqual(["exported"]);
    for (const section of ["source_of_truth", "server", "circuit_breaker_config"]) expect(answer.warnings.some((warning) => warning.startsWith(`${section} was not imported`))).toBe(true);
    for (const field of ["allow_private_network", "keep_alive_timeout_in_seconds", "http2_ping_interval_in_seconds"]) {
      expect(answer.warnings.some((warning) => warning.startsWith(`providers.bf-export.network_config.${field} is accepted but has no effect`))).toBe(true);
    }
    const { virtual_key: key } = (await (await admin("GET", "/api/governance/virtual-keys/vk-exported")).json()) as { virtual_key: { expires_at: string; provider_configs: { key_ids: string[] | null; allow_all_keys?: boolean }[] } };
    expect(key.provider_configs[0]?.key_ids).toEqual(["key-one"]);
    expect(key.expires_at).toBe("2099-01-01T00:00:00.000Z");
    // Bifrost's secret objects were read as the strings they hold: the key reaches its origin.
    expect((await chat(`bf-export/${LLAMA}`)).status).toBe(200);
  });

  it("reads Ollama's and SGLang's per-key URLs and Bifrost's alias objects", async () => {
    await imported({
      providers: {
        ollama: { keys: [{ name: "o1", value: "", models: ["*"], weight: 1, ollama_key_config: { url: origin() }, aliases: { small: { model_id: LLAMA } } }] },
        sgl: { keys: [{ name: "s1", value: "", models: ["*"], weight: 1, sgl_key_config: { url: origin() } }] },
      },
    });
    expect((await chat("ollama/small")).status).toBe(200);
    expect((await chat(`sgl/${LLAMA}`)).status).toBe(200);
    const { keys } = (await (await admin("GET", "/api/providers/ollama/keys")).json()) as { keys: { aliases: Record<string, string>; vllm_key_config: { url: string } }[] };
    expect(keys[0]?.aliases).toEqual({ small: LLAMA });
    expect(keys[0]?.vllm_key_config.url).toBe(origin());
  });

  it("reads a version 1 file's empty allow-lists as Bifrost v1.4 did: everything", async () => {
    const answer = await imported({
      version: 1,
      providers: { "bf-v1": custom([{ name: "k1", value: "", models: [], weight: 1 }]) },
      governance: {
        virtual_keys: [
          { id: "vk-v1", name: "v1", value: "sk-bf-version-one-0123456789abcdef", provider_configs: [{ provider: "bf-v1", weight: 1, allowed_models: [], key_ids: [] }] },
          { id: "vk-v1-bare", name: "v1-bare" },
        ],
      },
    });
    expect(answer.warnings).toContain("virtual key 'v1-bare': version 1 let a key without provider_configs use every provider; here it may use none until they are listed");
    expect((await chat(`bf-v1/${LLAMA}`)).status).toBe(200);
    expect((await chat(`bf-v1/${LLAMA}`, { "x-bf-vk": "sk-bf-version-one-0123456789abcdef" })).status).toBe(200);
    // Version 2 (the default) reads an empty list as none.
    await imported({ providers: { "bf-v2": custom([{ name: "k1", value: "", models: [], weight: 1 }]) } });
    expect((await chat(`bf-v2/${LLAMA}`)).status).toBe(404);
    const unknown = await admin("POST", "/api/config/import", { version: 3 });
    expect(unknown.status).toBe(400);
    expect(await errorOf(unknown)).toMatchObject({ param: "version", message: "version must be 1 or 2" });
  });
});
