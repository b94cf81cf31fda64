/** Client-chosen strings never become unbounded state: capped model names, bounded errors, bounded metric labels. */
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN, admin, configure, errorOf, eventually, gateway, origin, postJson, received } from "./helpers";

beforeAll(async () => {
  await configure({ vllm: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin("default") } }] } });
});

describe("bounded inputs", () => {
  it("refuses model names over 256 characters without echoing them", async () => {
    for (const path of ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses", "/v1/messages", "/v1/rerank"]) {
      const huge = `vllm/${"x".repeat(2 * 1024 * 1024)}`;
      const body = { model: huge, messages: [{ role: "user", content: "hi" }], prompt: "hi", input: "hi", max_tokens: 5, query: "q", documents: ["d"] };
      const response = await postJson(path, body);
      expect(response.status, path).toBe(400);
      const text = await response.text();
      expect(text.length, path).toBeLessThan(1024);
      expect(text, path).toContain("at most 256 characters");
    }
    const fallbacks = await postJson("/v1/chat/completions", { model: "vllm/m", messages: [], fallbacks: ["y".repeat(300)] });
    expect(fallbacks.status).toBe(400);
    expect((await errorOf(fallbacks)).message).toContain("at most 256 characters");
  });

  it("names a body size limit that is not a whole MiB in KiB", async () => {
    const team = await admin("POST", "/api/governance/teams", { name: "too-big", description: "a".repeat(300_000) });
    expect(team.status, await team.clone().text()).toBe(413);
    expect(await errorOf(team)).toMatchObject({ code: "request_too_large", message: "request body is larger than the 256 KiB limit" });
    const provider = await admin("POST", "/api/providers", { provider: "too-big", keys: [{ name: "k", value: "a".repeat(5 * 1024 * 1024) }] });
    expect(provider.status).toBe(413);
    expect((await errorOf(provider)).message).toBe("request body is larger than the 4 MiB limit");
  });

  it("refuses names holding a lone surrogate, which stores keep inconsistently", async () => {
    const lone = "gpu\ud800";
    const writes: [string, string, Record<string, unknown>][] = [
      ["POST", "/api/governance/virtual-keys", { name: lone }],
      ["POST", "/api/governance/teams", { name: lone }],
      ["POST", "/api/providers/vllm/keys", { name: lone, vllm_key_config: { url: origin("default") } }],
    ];
    for (const [method, path, body] of writes) {
      const refused = await admin(method, path, body);
      expect(refused.status, path).toBe(400);
      expect((await errorOf(refused)).message, path).toContain("must be well-formed Unicode text");
    }
    expect((await admin("POST", "/api/governance/teams", { name: "gpu 🎉" })).status).toBe(200);
  });

  it("names at most ten problems of a body, each briefly", async () => {
    const fields = Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`field_${i}_${"z".repeat(200)}`, i]));
    const response = await admin("POST", "/api/governance/virtual-keys", { name: "bounded", ...fields });
    expect(response.status).toBe(400);
    const { message } = await errorOf(response);
    expect(message.length).toBeLessThan(2048);
    expect(message).toContain("and 1990 more");
  });

  it("answers a body with hundreds of thousands of problems with a 400, not a crash", async () => {
    const response = await admin("POST", "/api/config/import", { governance: { virtual_keys: Array.from({ length: 300_000 }, () => 7) } });
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.code).toBe("invalid_request");
    expect(error.message.length).toBeLessThan(2000);
  });

  it("labels metrics with configured or served model names only, never a made-up one", async () => {
    for (let i = 0; i < 5; i += 1) {
      const response = await postJson("/v1/chat/completions", { model: `vllm/made-up-${i}-\u0000-${"q".repeat(200)}`, messages: [] });
      expect(response.status).toBe(404);
      await response.text();
    }
    const served = await postJson("/v1/chat/completions", { model: "vllm/meta-llama/Llama-3.2-1B-Instruct", messages: [] });
    expect(served.status).toBe(200);
    await served.text();
    const text = await eventually(async () => (await gateway("/metrics", { headers: ADMIN })).text(), (body) => body.includes('status_code="404"} 5'), 5000);
    expect(text).toContain(`bifrost_error_requests_total{provider="vllm",model="other",virtual_key="",status_code="404"} 5`);
    expect(text).toContain(`bifrost_success_requests_total{provider="vllm",model="vllm/meta-llama/Llama-3.2-1B-Instruct",virtual_key=""} 1`);
    expect(text).not.toContain("made-up");
    expect(text).not.toContain("\u0000");
  });

  it("cannot amplify model listings into origin traffic: each origin is asked at most once per few seconds", async () => {
    const first = crypto.randomUUID();
    const second = crypto.randomUUID();
    expect((await gateway("/v1/models", { headers: { "x-request-id": first } })).status).toBe(200);
    expect((await gateway("/v1/models", { headers: { "x-request-id": second } })).status).toBe(200);
    expect((await received(first)).map((r) => r.path)).toEqual(["/v1/models"]);
    expect(await received(second)).toEqual([]);
  });
});
