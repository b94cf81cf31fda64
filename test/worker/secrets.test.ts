/**
 * No secret comes back: extra header values are masked and sealed like key values, `env.NAME` may not name the
 * gateway's own settings, and a stored secret does not follow a key to a new origin unless it is re-entered.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { forgetCachedConfig, publishSnapshot } from "../../src/config/store";
import { ADMIN, LLAMA, admin, errorOf, origin, postJson, received } from "./helpers";

const HEADER_SECRET = "hdr-secret-0123456789abcdef";
const KEY_SECRET = "sk-literal-0123456789abcdef";

function customProvider(extra: Record<string, unknown> = {}, headerSecret = HEADER_SECRET) {
  return {
    keys: [{ name: "k", value: KEY_SECRET, models: ["*"] }],
    network_config: { base_url: origin("default"), extra_headers: { "x-origin-secret": headerSecret, "x-team": "env.ORIGIN_TOKEN" } },
    custom_provider_config: { base_provider_type: "openai" },
    ...extra,
  };
}

async function chatHeaders(provider: string, requestId: string): Promise<Record<string, string>> {
  const response = await postJson("/v1/chat/completions", { model: `${provider}/${LLAMA}`, messages: [] }, { "x-request-id": requestId });
  expect(response.status, await response.clone().text()).toBe(200);
  const [seen] = await received(requestId);
  return seen?.headers ?? {};
}

describe("extra_headers values are secrets", () => {
  it("come back masked from every admin answer, and a masked value sent back keeps the stored one", async () => {
    const created = await admin("PUT", "/api/providers/hdr-masked", customProvider());
    expect(created.status, await created.clone().text()).toBe(200);
    const answers = [
      await created.text(),
      await (await admin("GET", "/api/providers")).text(),
      await (await admin("GET", "/api/providers/hdr-masked")).text(),
      await (await admin("GET", "/api/config")).text(),
    ];
    for (const answer of answers) {
      expect(answer).not.toContain(HEADER_SECRET);
      expect(answer).not.toContain(KEY_SECRET);
    }
    const read = (await (await admin("GET", "/api/providers/hdr-masked")).json()) as { network_config: { extra_headers: Record<string, string> }; keys: unknown[] };
    const masked = read.network_config.extra_headers["x-origin-secret"] as string;
    expect(masked).toContain("********");
    // env.NAME references are not secrets: they are shown as they are.
    expect(read.network_config.extra_headers["x-team"]).toBe("env.ORIGIN_TOKEN");

    let headers = await chatHeaders("hdr-masked", "hdr-masked-1");
    expect(headers["x-origin-secret"]).toBe(HEADER_SECRET);
    expect(headers["x-team"]).toBe("origin-secret-token");

    // Writing back what was read keeps the stored values.
    const roundTrip = await admin("PUT", "/api/providers/hdr-masked", { network_config: read.network_config, keys: read.keys });
    expect(roundTrip.status, await roundTrip.clone().text()).toBe(200);
    headers = await chatHeaders("hdr-masked", "hdr-masked-2");
    expect(headers["x-origin-secret"]).toBe(HEADER_SECRET);
    expect(headers.authorization).toBe(`Bearer ${KEY_SECRET}`);
  });

  it("are sealed at rest when CONFIG_ENCRYPTION_KEY is set and opened only for the origin", async () => {
    const HEADER_SECRET = "sealed-hdr-secret-0123456789";
    const sealedEnv = { ...env, CONFIG_ENCRYPTION_KEY: "a-test-encryption-key-of-enough-length" };
    const app = buildApp();
    const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = ADMIN) =>
      app.fetch(new Request(`http://gateway.test${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }), sealedEnv);
    try {
      const created = await call("PUT", "/api/providers/hdr-sealed", customProvider({}, HEADER_SECRET));
      expect(created.status, await created.clone().text()).toBe(200);
      const row = await env.DB.prepare("SELECT config FROM providers WHERE name = 'hdr-sealed'").first<string>("config");
      expect(row).toContain("enc:v1:");
      expect(row).not.toContain(HEADER_SECRET);
      expect(row).toContain("env.ORIGIN_TOKEN");
      expect(await env.CONFIG_KV.get("config/providers-snapshot")).not.toContain(HEADER_SECRET);
      const listed = await (await call("GET", "/api/providers/hdr-sealed")).text();
      expect(listed).not.toContain(HEADER_SECRET);
      expect(listed).not.toContain("enc:v1:");
      const chat = await call("POST", "/v1/chat/completions", { model: `hdr-sealed/${LLAMA}`, messages: [] }, { "content-type": "application/json", "x-request-id": "hdr-sealed-1" });
      expect(chat.status, await chat.clone().text()).toBe(200);
      const [seen] = await received("hdr-sealed-1");
      expect(seen?.headers["x-origin-secret"]).toBe(HEADER_SECRET);
      // Without the key the header cannot be opened, and the request fails instead of sending the sealed text.
      forgetCachedConfig();
      const unopened = await postJson("/v1/chat/completions", { model: `hdr-sealed/${LLAMA}`, messages: [] });
      expect(unopened.status).toBe(502);
      // Which setting is missing is for the operator's logs, not the client.
      const { message } = await errorOf(unopened);
      expect(message).toContain("cannot be used: its configuration on the gateway is incomplete");
      expect(message).not.toContain("CONFIG_ENCRYPTION_KEY");
    } finally {
      await admin("DELETE", "/api/providers/hdr-sealed");
      forgetCachedConfig();
    }
  });
});

describe("env.NAME references", () => {
  const refused: [string, Record<string, unknown>, string][] = [
    ["a key value", { keys: [{ name: "k", value: "env.ADMIN_TOKEN", vllm_key_config: { url: origin() } }] }, "ADMIN_TOKEN"],
    ["an extra header", { keys: [], network_config: { base_url: origin(), extra_headers: { "x-a": "env.CONFIG_ENCRYPTION_KEY" } } }, "CONFIG_ENCRYPTION_KEY"],
    ["a base URL", { keys: [], network_config: { base_url: "env.EPHEMERAL_TOKEN_SECRET" } }, "EPHEMERAL_TOKEN_SECRET"],
    ["a key's origin URL", { keys: [{ name: "k", vllm_key_config: { url: "env.DEFAULT_VLLM_URL" } }] }, "DEFAULT_VLLM_URL"],
    ["an Access secret", { keys: [{ name: "k", vllm_key_config: { url: origin() }, cloudflare_access: { client_id: "id", client_secret: "env.LOCAL_ADMIN_WITHOUT_TOKEN" } }] }, "LOCAL_ADMIN_WITHOUT_TOKEN"],
    ["a binding", { keys: [{ name: "k", value: "env.DB", vllm_key_config: { url: origin() } }] }, "DB"],
  ];
  for (const [where, settings, name] of refused) {
    it(`may not name the gateway's own ${name} in ${where}`, async () => {
      const body = { ...settings, custom_provider_config: { base_provider_type: "openai" } };
      const response = await admin("PUT", "/api/providers/env-refused", body);
      expect(response.status).toBe(400);
      expect((await errorOf(response)).message).toContain(`env.${name}`);
      const imported = await admin("POST", "/api/config/import", { providers: { "env-refused": body } });
      expect(imported.status).toBe(400);
      expect((await errorOf(imported)).message).toContain(`env.${name}`);
    });
  }

  it("are refused at request time too when an older stored configuration names the gateway's own secrets", async () => {
    const now = Date.now();
    await env.DB.batch([
      env.DB.prepare("INSERT OR REPLACE INTO providers (name, config, created_at, updated_at) VALUES ('env-legacy', ?1, ?2, ?2)").bind(
        JSON.stringify({ network_config: { base_url: origin("default") }, custom_provider_config: { base_provider_type: "openai" } }),
        now,
      ),
      env.DB.prepare("DELETE FROM provider_keys WHERE provider = 'env-legacy'"),
      env.DB.prepare("INSERT INTO provider_keys (id, provider, name, position, config, created_at, updated_at) VALUES ('k', 'env-legacy', 'k', 0, ?1, ?2, ?2)").bind(
        JSON.stringify({ value: "env.ADMIN_TOKEN", weight: 1, enabled: true, models: ["*"] }),
        now,
      ),
    ]);
    await publishSnapshot(env);
    const response = await postJson("/v1/chat/completions", { model: `env-legacy/${LLAMA}`, messages: [] }, { "x-request-id": "env-legacy-1" });
    expect(response.status).toBe(502);
    // Which setting is missing is for the operator's logs, not the client.
    const { message } = await errorOf(response);
    expect(message).toContain("cannot be used: its configuration on the gateway is incomplete");
    expect(message).not.toContain("ADMIN_TOKEN");
    expect(await received("env-legacy-1")).toEqual([]);
    await admin("DELETE", "/api/providers/env-legacy");
  });

  it("may name other Worker secrets", async () => {
    const response = await admin("PUT", "/api/providers/env-allowed", {
      keys: [{ name: "k", value: "env.ORIGIN_TOKEN", models: ["*"] }],
      network_config: { base_url: origin("auth"), extra_headers: { "x-forwarded-secret": "env.ORIGIN_TOKEN" } },
      custom_provider_config: { base_provider_type: "openai" },
    });
    expect(response.status, await response.clone().text()).toBe(200);
    const headers = await chatHeaders("env-allowed", "env-allowed-1");
    expect(headers["x-forwarded-secret"]).toBe("origin-secret-token");
  });
});

describe("a stored secret does not follow a key to a new origin", () => {
  it("refuses a key's new URL unless its value is re-entered in full or as env.NAME", async () => {
    const created = await admin("PUT", "/api/providers/vllm", {
      keys: [
        { name: "moving", value: KEY_SECRET, models: ["*"], vllm_key_config: { url: origin("a") } },
        { name: "open", value: "", models: ["*"], vllm_key_config: { url: origin("a") } },
      ],
    });
    expect(created.status, await created.clone().text()).toBe(200);
    const { keys } = (await created.json()) as { keys: { name: string; value: string; vllm_key_config: { url: string } }[] };
    const masked = keys.find((key) => key.name === "moving")?.value as string;

    // Value omitted, or sent back masked: refused, naming the key and what to re-enter.
    let response = await admin("PUT", "/api/providers/vllm/keys/moving", { vllm_key_config: { url: origin("b") } });
    expect(response.status).toBe(400);
    const { message, code } = await errorOf(response);
    expect(message).toContain("moving");
    expect(message).toContain("re-enter");
    expect(code).toBe("secret_reentry_required");
    response = await admin("PUT", "/api/providers/vllm/keys/moving", { value: masked, vllm_key_config: { url: origin("b") } });
    expect(response.status).toBe(400);
    // The same through a whole-provider update and through an import of what was exported.
    response = await admin("PUT", "/api/providers/vllm", { keys: keys.map((key) => (key.name === "moving" ? { ...key, vllm_key_config: { url: origin("b") } } : key)) });
    expect(response.status).toBe(400);
    const exported = (await (await admin("GET", "/api/config")).json()) as { providers: Record<string, { keys: { name: string }[] }> };
    const vllm = exported.providers.vllm as { keys: { name: string; vllm_key_config?: { url: string } }[] };
    vllm.keys = vllm.keys.map((key) => (key.name === "moving" ? { ...key, vllm_key_config: { url: origin("b") } } : key));
    response = await admin("POST", "/api/config/import", { providers: { vllm } });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).code).toBe("secret_reentry_required");

    // Unchanged origin: the masked value keeps the stored secret, as before.
    response = await admin("PUT", "/api/providers/vllm/keys/moving", { value: masked, weight: 2 });
    expect(response.status, await response.clone().text()).toBe(200);
    // A key with no secret moves freely.
    response = await admin("PUT", "/api/providers/vllm/keys/open", { vllm_key_config: { url: origin("b") } });
    expect(response.status, await response.clone().text()).toBe(200);
    // Re-entered in full, or as env.NAME: accepted.
    response = await admin("PUT", "/api/providers/vllm/keys/moving", { value: KEY_SECRET, vllm_key_config: { url: origin("b") } });
    expect(response.status, await response.clone().text()).toBe(200);
    response = await admin("PUT", "/api/providers/vllm/keys/moving", { value: "env.ORIGIN_TOKEN", vllm_key_config: { url: origin("c") } });
    expect(response.status, await response.clone().text()).toBe(200);
    await admin("DELETE", "/api/providers/vllm");
  });

  it("refuses a provider's new base URL for keys that inherit it, and for its extra header values", async () => {
    const created = await admin("PUT", "/api/providers/moving-base", customProvider());
    expect(created.status, await created.clone().text()).toBe(200);
    const read = (await created.json()) as { keys: { name: string; value: string }[]; network_config: { base_url: string; extra_headers: Record<string, string> } };

    // Keys omitted (kept as stored) or sent back masked: refused.
    let response = await admin("PUT", "/api/providers/moving-base", { network_config: { ...read.network_config, base_url: origin("elsewhere") } });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).message).toContain("'k'");
    response = await admin("PUT", "/api/providers/moving-base", { keys: read.keys, network_config: { ...read.network_config, base_url: origin("elsewhere") } });
    expect(response.status).toBe(400);
    // Key re-entered, extra header still masked: refused, naming the header.
    response = await admin("PUT", "/api/providers/moving-base", {
      keys: [{ ...read.keys[0], value: KEY_SECRET }],
      network_config: { ...read.network_config, base_url: origin("elsewhere") },
    });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).message).toContain("x-origin-secret");
    // An absolute path override is a new origin too.
    response = await admin("PUT", "/api/providers/moving-base", {
      custom_provider_config: { base_provider_type: "openai", request_path_overrides: { chat_completion: `${origin("elsewhere")}/v1/chat/completions` } },
    });
    expect(response.status).toBe(400);
    // Everything re-entered: accepted, and the origin receives it.
    response = await admin("PUT", "/api/providers/moving-base", {
      keys: [{ ...read.keys[0], value: KEY_SECRET }],
      network_config: { base_url: origin("elsewhere"), extra_headers: { "x-origin-secret": HEADER_SECRET, "x-team": "env.ORIGIN_TOKEN" } },
    });
    expect(response.status, await response.clone().text()).toBe(200);
    const headers = await chatHeaders("moving-base", "moving-base-1");
    expect(headers.authorization).toBe(`Bearer ${KEY_SECRET}`);
    expect(headers["x-origin-secret"]).toBe(HEADER_SECRET);
    // A new key added at a new origin would carry the provider's masked extra headers there: refused too.
    response = await admin("POST", "/api/providers/moving-base/keys", { name: "k2", value: "", models: ["*"], vllm_key_config: { url: origin("third") } });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).message).toContain("x-origin-secret");
    await admin("DELETE", "/api/providers/moving-base");
  });
});
