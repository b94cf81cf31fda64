/**
 * Dollar accounting against the real gateway: which price a request is charged at (the served model's, an
 * override's or the bundled catalog's), unpriced models under a budget, audio priced per second, and a dollar budget
 * under 1,000 concurrent requests. Every amount is exact: the fake vLLM's usage is deterministic.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { LLAMA, admin, configure, errorOf, gateway, origin, postJson, quota, received, virtualKey } from "./helpers";

/** "hi": the gateway estimates 1 text token + 4 for the message + 3 for the reply header. */
const HI = [{ role: "user", content: "hi" }];
const HI_ESTIMATE = 8;
/** The fake's usage for "hi": ceil(len('[{"role":"user","content":"hi"}]') / 4) = 8 prompt tokens; "You said: hi" is 3. */
const HI_USAGE = { prompt_tokens: 8, completion_tokens: 3 };

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

function chat(key: string, model: string, extra: Record<string, unknown> = {}, requestId: string = crypto.randomUUID()) {
  return postJson("/v1/chat/completions", { model, messages: HI, ...extra }, { "x-bf-vk": key, "x-request-id": requestId });
}

function price(rule: Record<string, unknown>) {
  return admin("POST", "/api/governance/pricing-overrides", { scope_kind: "provider", provider: "vllm", match_type: "exact", ...rule }).then((r) => expect(r.status).toBe(200));
}

/** Budget spend (and held reservations) in integer nano-dollars. */
async function spent(key: string): Promise<{ used: number; reserved: number }> {
  const budget = (await quota(key)).budgets[0];
  return { used: Math.round((budget?.current_usage ?? NaN) * 1e9), reserved: Math.round((budget?.reserved ?? NaN) * 1e9) };
}

/** PUT a virtual key and return its value with the warnings the answer carries. */
async function putKey(id: string, body: Record<string, unknown>): Promise<{ value: string; warnings: string[] }> {
  await admin("DELETE", `/api/governance/virtual-keys/${id}`);
  const response = await admin("PUT", `/api/governance/virtual-keys/${id}`, body);
  expect(response.status, await response.clone().text()).toBe(200);
  const answer = (await response.json()) as { virtual_key: { value: string }; warnings: string[] };
  return { value: answer.virtual_key.value, warnings: answer.warnings };
}

beforeAll(async () => {
  await configure({
    vllm: {
      keys: [
        // Serves every name as sent, and the alias "Small" as Llama; "pinned-name" belongs to the pinned key alone.
        { name: "local", models: ["*"], blacklisted_models: ["pinned-name"], aliases: { Small: LLAMA }, vllm_key_config: { url: origin("default") } },
        { name: "pinned", models: ["pinned-name"], vllm_key_config: { url: origin("default"), model_name: LLAMA } },
      ],
    },
    sgl: { keys: [{ name: "sgl-local", models: [LLAMA], vllm_key_config: { url: origin("default") } }] },
    openai: { network_config: { base_url: origin("openai") }, keys: [{ name: "oa", value: "sk-test-openai", models: ["gpt-4o-mini"] }] },
  });
  // The served model at $1 in / $2 out per 1M tokens, with a pattern in another case than the served name.
  await price({ pattern: LLAMA.toUpperCase(), input_price_per_million: 1, output_price_per_million: 2 });
  // Decoys priced on the client-facing names: a request charged at the name it was asked by would cost 1000×.
  await price({ pattern: "small", input_price_per_million: 1000, output_price_per_million: 1000 });
  await price({ pattern: "pinned-name", input_price_per_million: 1000, output_price_per_million: 1000 });
});

describe("the price a request is charged at", () => {
  it("is the served model's, whether asked for directly, by alias, by the alias in another case, or through model_name", async () => {
    const key = await virtualKey("served-price", { provider_configs: [{ provider: "vllm" }], budgets: [{ max_limit: 1, reset_duration: "1d" }] });
    let total = 0;
    for (const model of [`vllm/${LLAMA}`, "vllm/Small", "vllm/SMALL", "vllm/pinned-name"]) {
      const requestId = crypto.randomUUID();
      const response = await chat(key, model, {}, requestId);
      expect(response.status, model).toBe(200);
      const { usage } = (await response.json()) as { usage: Usage };
      expect(usage, model).toMatchObject(HI_USAGE);
      expect(JSON.parse((await received(requestId))[0]?.body ?? "{}").model, model).toBe(LLAMA);
      // $1 per 1M prompt tokens is 1,000 nano-dollars a token; $2 per 1M completion tokens, 2,000.
      total += usage.prompt_tokens * 1_000 + usage.completion_tokens * 2_000;
      expect(await spent(key), model).toEqual({ used: total, reserved: 0 });
    }
    expect(total).toBe(4 * 14_000);
  });

  it("is the bundled catalog's for a hosted model without an override", async () => {
    const key = await virtualKey("catalog-price", { provider_configs: [{ provider: "openai" }], budgets: [{ max_limit: 1, reset_duration: "1d" }] });
    const requestId = crypto.randomUUID();
    const response = await chat(key, "openai/gpt-4o-mini", {}, requestId);
    expect(response.status).toBe(200);
    const { usage } = (await response.json()) as { usage: Usage };
    expect(usage).toMatchObject(HI_USAGE);
    expect((await received(requestId))[0]).toMatchObject({ origin: "openai", path: "/v1/chat/completions" });
    // price-catalog.json: gpt-4o-mini costs $0.15 in / $0.60 out per 1M tokens — 150 and 600 nano-dollars a token.
    expect(await spent(key)).toEqual({ used: usage.prompt_tokens * 150 + usage.completion_tokens * 600, reserved: 0 });

    // The catalog price also sizes the grant: a $0.002 budget leaves (2,000,000 − 8 × 150) / 600 completion tokens.
    const tight = await virtualKey("catalog-grant", { provider_configs: [{ provider: "openai" }], budgets: [{ max_limit: 0.002, reset_duration: "1d" }] });
    const grantId = crypto.randomUUID();
    expect((await chat(tight, "openai/gpt-4o-mini", {}, grantId)).status).toBe(200);
    expect(JSON.parse((await received(grantId))[0]?.body ?? "{}").max_tokens).toBe(Math.floor((2_000_000 - HI_ESTIMATE * 150) / 600));
  });
});

describe("unpriced models", () => {
  it("are refused under a dollar budget, named in the refusal and in the key's warnings, until priced ($0 is a price)", async () => {
    const body = { provider_configs: [{ provider: "sgl" }], budgets: [{ max_limit: 1, reset_duration: "1d" }] };
    const { value: key, warnings } = await putKey("unpriced", body);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`model 'sgl/${LLAMA}'`);
    expect(warnings[0]).toContain("has no price");

    const refused = await chat(key, `sgl/${LLAMA}`);
    expect(refused.status).toBe(403);
    const error = await errorOf(refused);
    expect(error.code).toBe("model_unpriced");
    expect(error.message).toContain(`model '${LLAMA}' of provider 'sgl' has no price`);
    expect(error.message).toContain("POST /api/governance/pricing-overrides");

    // The same model without a dollar budget is served (nothing to charge it against).
    const unbudgeted = await virtualKey("unpriced-free", { provider_configs: [{ provider: "sgl" }] });
    expect((await chat(unbudgeted, `sgl/${LLAMA}`)).status).toBe(200);

    const priced = await admin("POST", "/api/governance/pricing-overrides", { scope_kind: "provider", provider: "sgl", match_type: "exact", pattern: LLAMA, input_price_per_million: 0, output_price_per_million: 0 });
    const { id } = ((await priced.json()) as { pricing_override: { id: string } }).pricing_override;
    expect((await chat(key, `sgl/${LLAMA}`)).status).toBe(200);
    expect(await spent(key)).toEqual({ used: 0, reserved: 0 });
    expect((await admin("PUT", "/api/governance/virtual-keys/unpriced", body).then((r) => r.json())) as { warnings: string[] }).toMatchObject({ warnings: [] });

    // Deleting the override unprices the model again; deleting what is not there is a 404.
    expect((await admin("DELETE", `/api/governance/pricing-overrides/${id}`)).status).toBe(200);
    expect((await errorOf(await chat(key, `sgl/${LLAMA}`))).code).toBe("model_unpriced");
    for (const gone of [id, "no-such-override"]) {
      const again = await admin("DELETE", `/api/governance/pricing-overrides/${gone}`);
      expect(again.status, gone).toBe(404);
      expect((await errorOf(again)).message).toBe(`pricing override '${gone}' not found`);
    }
  });
});

describe("pricing overrides as Bifrost writes them", () => {
  it("come in from config.json's governance.pricing_overrides, keyed by their ids, and price what they name", async () => {
    const body = { provider_configs: [{ provider: "sgl" }], budgets: [{ max_limit: 1, reset_duration: "1d" }] };
    const key = await virtualKey("priced-by-import", body);
    expect((await errorOf(await chat(key, `sgl/${LLAMA}`))).code).toBe("model_unpriced");
    // Bifrost's row: an integer id, provider_id, per-token prices as the JSON text its database keeps, its own
    // timestamps and hash.
    const patch = JSON.stringify({ input_cost_per_token: 0.000001, output_cost_per_token: 0.000002 });
    const row = { id: 41, name: "llama on sgl", scope_kind: "provider", provider_id: "sgl", match_type: "exact", pattern: LLAMA, request_types: [], pricing_patch: patch, created_at: "2026-01-01T00:00:00Z", config_hash: "ab12" };
    for (let round = 0; round < 2; round += 1) {
      const imported = await admin("POST", "/api/config/import", { governance: { pricing_overrides: [row] } });
      expect(imported.status, await imported.clone().text()).toBe(200);
      expect(await imported.json()).toMatchObject({ pricing_overrides: ["llama on sgl"], warnings: [] });
    }
    const listed = ((await (await admin("GET", "/api/governance/pricing-overrides")).json()) as { pricing_overrides: { id: string; provider: string; input_price_per_million: number }[] }).pricing_overrides;
    expect(listed.filter((rule) => rule.id === "41")).toEqual([expect.objectContaining({ id: "41", provider: "sgl", input_price_per_million: 1, output_price_per_million: 2 })]);
    expect((await chat(key, `sgl/${LLAMA}`)).status).toBe(200);
    // 8 prompt tokens at $1/M and 3 completion tokens at $2/M.
    expect(await spent(key)).toEqual({ used: 8 * 1000 + 3 * 2000, reserved: 0 });
    expect((await admin("DELETE", "/api/governance/pricing-overrides/41")).status).toBe(200);
  });

  it("refuse request_types, which would otherwise price every request type, and provider_id naming another provider", async () => {
    const limited = await admin("POST", "/api/governance/pricing-overrides", { scope_kind: "provider", provider_id: "sgl", match_type: "exact", pattern: LLAMA, input_price_per_million: 1, request_types: ["embedding"] });
    expect(limited.status).toBe(400);
    expect((await errorOf(limited)).message).toContain("request_types is not supported");
    const notJson = await admin("POST", "/api/governance/pricing-overrides", { scope_kind: "global", pattern: LLAMA, pricing_patch: "{input_cost_per_token: 1" });
    expect(notJson.status).toBe(400);
    expect((await errorOf(notJson)).param).toBe("pricing_patch");
    const both = await admin("POST", "/api/governance/pricing-overrides", { scope_kind: "provider", provider: "vllm", provider_id: "sgl", pattern: LLAMA, input_price_per_million: 1 });
    expect(both.status).toBe(400);
    expect((await errorOf(both)).param).toBe("provider_id");
  });
});

describe("audio", () => {
  /** A multipart upload with a file of `bytes`, as exact bytes (so the reservation can be computed from its length). */
  async function upload(model: string, bytes: number, fields: Record<string, string> = {}): Promise<{ body: Uint8Array; type: string }> {
    const form = new FormData();
    form.append("file", new File([new Uint8Array(bytes).fill(7)], "speech.wav", { type: "audio/wav" }));
    form.append("model", model);
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    const encoded = new Response(form);
    return { body: new Uint8Array(await encoded.arrayBuffer()), type: encoded.headers.get("content-type") ?? "" };
  }

  function transcribe(key: string, { body, type }: { body: Uint8Array; type: string }) {
    return gateway("/v1/audio/transcriptions", { method: "POST", body, headers: { "x-bf-vk": key, "content-type": type, "content-length": String(body.byteLength) } });
  }

  it("reserves the upload's longest playing time and charges the seconds the origin reports", async () => {
    await price({ pattern: "audio-seconds", price_per_second: 0.001 });
    const key = await virtualKey("audio-budget", { provider_configs: [{ provider: "vllm" }], budgets: [{ max_limit: 0.1, reset_duration: "1d" }] });
    // 320,000 bytes of file: the fake reports 10 s (32,000 bytes a second); the gateway reserves ceil(upload / 4,000) s.
    const file = await upload("vllm/audio-seconds", 320_000);
    expect(Math.ceil(file.body.byteLength / 4_000)).toBe(81);
    for (const expected of [10_000_000, 20_000_000]) {
      // $0.081 reserved fits $0.1 − what was spent (0, then $0.01); each is charged 10 s × $0.001.
      const response = await transcribe(key, file);
      expect(response.status, await response.clone().text()).toBe(200);
      expect(((await response.json()) as { usage: unknown }).usage).toEqual({ type: "duration", seconds: 10 });
      expect(await spent(key)).toEqual({ used: expected, reserved: 0 });
    }
    // $0.02 spent + $0.081 reserved > $0.1: refused before the origin is asked.
    const refused = await transcribe(key, file);
    expect(refused.status).toBe(402);
    expect((await errorOf(refused)).code).toBe("budget_exceeded");
    // An upload whose reservation alone exceeds the budget can never be admitted.
    const huge = await upload("vllm/audio-seconds", 404_000);
    expect(Math.ceil(huge.body.byteLength / 4_000)).toBe(102);
    const never = await transcribe(key, huge);
    expect(never.status).toBe(400);
    const neverError = await errorOf(never);
    expect(neverError.code).toBe("request_exceeds_limit");
    // The upload itself is what cannot fit: no completion limit could help, so none is named.
    expect(neverError.param).toBeNull();
    expect(neverError.message).toMatch(/; send less input \(a shorter prompt or upload\) or raise the limit$/);
    expect(await spent(key)).toEqual({ used: 20_000_000, reserved: 0 });
  });

  it("charges the reservation when the origin's answer reports no usage", async () => {
    await price({ pattern: "openai/whisper-small", price_per_second: 0.001 });
    const key = await virtualKey("audio-unreported", { provider_configs: [{ provider: "vllm" }], budgets: [{ max_limit: 1, reset_duration: "1d" }] });
    const file = await upload("vllm/openai/whisper-small", 50_000, { response_format: "text" });
    const seconds = Math.ceil(file.body.byteLength / 4_000);
    expect(seconds).toBe(13);
    const response = await transcribe(key, file);
    expect(await response.text()).toBe("transcribed 50000 bytes");
    expect(await spent(key)).toEqual({ used: seconds * 1_000_000, reserved: 0 });
  });

  it("charges the reserved seconds for a streamed transcription, whose usage carries no seconds — and no tokens on top", async () => {
    // Priced per token too: the stream's usage chunk counts tokens, which audio is not charged for.
    await price({ pattern: "openai/whisper-small", price_per_second: 0.001, input_price_per_million: 1000, output_price_per_million: 1000 });
    const key = await virtualKey("audio-streamed", {
      provider_configs: [{ provider: "vllm" }],
      budgets: [{ max_limit: 1, reset_duration: "1d" }],
      rate_limit: { token_max_limit: 1_000_000, token_reset_duration: "1d" },
    });
    const forms: Record<string, string>[] = [{ stream: "true" }, { stream: "true", stream_include_usage: "true" }];
    for (const extra of forms) {
      const before = await spent(key);
      const file = await upload("vllm/openai/whisper-small", 50_000, extra);
      const response = await transcribe(key, file);
      expect(response.headers.get("content-type")).toContain("text/event-stream");
      await response.text();
      expect(await spent(key)).toEqual({ used: before.used + Math.ceil(file.body.byteLength / 4_000) * 1_000_000, reserved: 0 });
    }
    expect((await quota(key)).rate_limits[0]?.tokens?.current_usage).toBe(0);
  });
});

describe("a dollar budget under load", () => {
  it("admits exactly what fits out of 1,000 concurrent requests", async () => {
    // $100 per 1M completion tokens, nothing for the prompt: max_tokens 10 may cost $0.001, a 250th of the budget.
    await price({ pattern: "slow-headers", input_price_per_million: 0, output_price_per_million: 100 });
    const key = await virtualKey("budget-1000", { provider_configs: [{ provider: "vllm" }], budgets: [{ max_limit: 0.25, reset_duration: "1d" }] });
    // slow-headers holds every admitted request for 3 s, so nothing settles before every admission is decided.
    const responses = await Promise.all(Array.from({ length: 1_000 }, () => chat(key, "vllm/slow-headers", { max_tokens: 10 })));
    const admitted = responses.filter((r) => r.status === 200);
    const refused = responses.filter((r) => r.status === 402);
    expect(admitted).toHaveLength(250);
    expect(refused).toHaveLength(750);
    // Only reservations in flight stood in the way: retry in a second.
    expect(new Set(refused.map((r) => r.headers.get("retry-after")))).toEqual(new Set(["1"]));
    expect((await errorOf(refused[0] as Response)).code).toBe("budget_exceeded");
    const usages = await Promise.all(admitted.map(async (r) => ((await r.json()) as { usage: Usage }).usage.completion_tokens));
    await Promise.all(refused.slice(1).map((r) => r.text()));
    // Every admitted answer was settled before it was returned: 250 × 3 tokens × 100,000 nano-dollars.
    expect(usages.reduce((sum, n) => sum + n, 0)).toBe(250 * HI_USAGE.completion_tokens);
    expect(await spent(key)).toEqual({ used: 250 * HI_USAGE.completion_tokens * 100_000, reserved: 0 });
  }, 60_000);
});
