/**
 * Bare model names on Anthropic's base URL: as on Bifrost's /anthropic, a Claude model named without a provider goes
 * to the `anthropic` provider — unless a key lists that name, which keeps serving the names it lists there too.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { LLAMA, configure, errorOf, origin, postJson, received, virtualKey } from "./helpers";

const CLAUDE = "claude-3-5-sonnet-20241022";

beforeAll(async () => {
  await configure({
    vllm: { keys: [{ name: "local", models: [LLAMA], vllm_key_config: { url: origin("gpu") } }] },
    anthropic: { keys: [{ name: "anthropic-key-1", value: "sk-ant-test" }], network_config: { base_url: origin("claude") } },
    // A key that takes every name but also lists one: the listed name is its own, bare.
    spare: {
      keys: [{ name: "spare", models: ["spare-model", "*"], aliases: { small: LLAMA }, vllm_key_config: { url: origin("spare") } }],
      network_config: { base_url: origin("spare") },
      custom_provider_config: { base_provider_type: "openai" },
    },
  });
});

function messages(model: string, path = "/anthropic/v1/messages", headers: Record<string, string> = {}) {
  const requestId = crypto.randomUUID();
  const body = { model, max_tokens: 20, messages: [{ role: "user", content: "Hello, Claude" }] };
  return { requestId, response: postJson(path, body, { "anthropic-version": "2023-06-01", "x-request-id": requestId, ...headers }) };
}

describe("bare model names on /anthropic", () => {
  it("send a Claude model no key lists to the anthropic provider, named as the client named it", async () => {
    const { requestId, response } = messages(CLAUDE);
    const answer = await response;
    expect(answer.status, await answer.clone().text()).toBe(200);
    expect(answer.headers.get("x-bf-provider")).toBe("anthropic");
    expect(((await answer.json()) as { model: string }).model).toBe(CLAUDE);
    const [sent] = await received(requestId);
    expect(sent?.origin).toBe("claude");
    expect(sent?.headers.authorization).toBe("Bearer sk-ant-test");
    expect((JSON.parse(sent?.body ?? "{}") as { model: string }).model).toBe(CLAUDE);
  });

  it("keep serving a name a key lists from that key", async () => {
    const { requestId, response } = messages(LLAMA);
    const answer = await response;
    expect(answer.status).toBe(200);
    expect(answer.headers.get("x-bf-provider")).toBe("vllm");
    expect((await received(requestId))[0]?.origin).toBe("gpu");
  });

  it("send a virtual key's unserved bare name to its anthropic provider config, and refuse it without one", async () => {
    const both = await virtualKey("claude-and-gpu", { provider_configs: [{ provider: "vllm", weight: 1, allowed_models: [LLAMA] }, { provider: "anthropic", weight: null }] });
    const withBoth = messages(CLAUDE, undefined, { "x-api-key": both });
    const served = await withBoth.response;
    expect(served.status, await served.clone().text()).toBe(200);
    expect(served.headers.get("x-bf-provider")).toBe("anthropic");
    expect((await received(withBoth.requestId))[0]?.origin).toBe("claude");

    const gpuOnly = await virtualKey("gpu-only", { provider_configs: [{ provider: "vllm", weight: 1, allowed_models: [LLAMA] }] });
    const refused = await messages(CLAUDE, undefined, { "x-api-key": gpuOnly }).response;
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain(`no provider of virtual key 'gpu-only' serves model '${CLAUDE}'`);
  });

  it("go to a virtual key's anthropic config even when another of its providers takes every name", async () => {
    const key = await virtualKey("claude-and-spare", { provider_configs: [{ provider: "spare", weight: 1 }, { provider: "anthropic", weight: null }] });
    for (let i = 0; i < 6; i += 1) {
      const sent = messages(CLAUDE, undefined, { "x-api-key": key });
      const answer = await sent.response;
      expect(answer.status, await answer.clone().text()).toBe(200);
      expect((await received(sent.requestId))[0]?.origin).toBe("claude");
    }
    // A name the spare key lists itself stays with it.
    const listed = messages("spare-model", undefined, { "x-api-key": key });
    expect((await listed.response).status).toBe(200);
    expect((await received(listed.requestId))[0]?.origin).toBe("spare");
  });

  it("apply on Anthropic's base URL only: elsewhere a bare name needs a key that lists it", async () => {
    const answer = await messages(CLAUDE, "/v1/messages").response;
    expect(answer.status).toBe(400);
    expect(await answer.text()).toContain("provider is required in model field");
    const chat = await postJson("/v1/chat/completions", { model: CLAUDE, messages: [{ role: "user", content: "hi" }] });
    expect((await errorOf(chat)).code).toBe("provider_required");
  });
});

describe("bare names a key names", () => {
  it("claims the names it lists when they come bare", async () => {
    const requestId = crypto.randomUUID();
    const answer = await postJson("/v1/chat/completions", { model: "spare-model", messages: [{ role: "user", content: "hi" }] }, { "x-request-id": requestId });
    expect(answer.status, await answer.clone().text()).toBe(200);
    expect(answer.headers.get("x-bf-provider")).toBe("spare");
    expect((await received(requestId))[0]?.origin).toBe("spare");
  });

  it("include its aliases in any case, as aliases match", async () => {
    for (const name of ["small", "SMALL", "Small"]) {
      const requestId = crypto.randomUUID();
      const answer = await postJson("/v1/chat/completions", { model: name, messages: [{ role: "user", content: "hi" }] }, { "x-request-id": requestId });
      expect(answer.status, name).toBe(200);
      expect(((await answer.json()) as { model: string }).model, name).toBe(name);
      const [sent] = await received(requestId);
      expect(sent?.origin, name).toBe("spare");
      expect((JSON.parse(sent?.body ?? "{}") as { model: string }).model, name).toBe(LLAMA);
    }
  });
});
