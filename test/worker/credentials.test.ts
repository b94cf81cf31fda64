/**
 * Credentials are checked once, first, on every route: an inactive key or a revoked ephemeral token is refused
 * before any body is read (a malformed body would otherwise be a 400), and a key's id or name sent as the
 * credential is a 401 that says so — also where keyless requests are allowed.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { LLAMA, admin, configure, errorOf, gateway, origin, postJson, virtualKey } from "./helpers";

const APP = "https://app.example.com";
const MALFORMED = "{not json";

beforeAll(async () => {
  await configure({
    vllm: {
      keys: [
        { name: "gpu-a", models: [LLAMA], vllm_key_config: { url: origin("default") } },
        { name: "gpu-b", models: ["BAAI/bge-m3"], vllm_key_config: { url: origin("embed") } },
      ],
    },
  });
});

/** Every route a client credential opens, each with a body the gateway would refuse with a 400 if it read it. */
function everyRoute(headers: Record<string, string>): Record<string, () => Promise<Response>> {
  const post = (path: string) => () => gateway(path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: MALFORMED });
  return {
    "chat completions": post("/v1/chat/completions"),
    completions: post("/v1/completions"),
    embeddings: post("/v1/embeddings"),
    responses: post("/v1/responses"),
    messages: post("/anthropic/v1/messages"),
    count_tokens: post("/anthropic/v1/messages/count_tokens"),
    rerank: post("/v1/rerank"),
    "model list": () => gateway("/v1/models", { headers }),
    "token minting": post("/api/governance/virtual-keys/ephemeral-tokens"),
  };
}

async function typeOf(response: Response): Promise<string> {
  const body = (await response.json()) as { error: { type?: string; code?: string } };
  return body.error.code ?? body.error.type ?? "";
}

describe("credentials first", () => {
  it("refuses an inactive key on every route before reading the body", async () => {
    const key = await virtualKey("inactive-everywhere", { provider_configs: [{ provider: "vllm" }] });
    expect((await admin("PUT", "/api/governance/virtual-keys/inactive-everywhere", { is_active: false })).status).toBe(200);
    for (const [route, call] of Object.entries(everyRoute({ "x-bf-vk": key }))) {
      const response = await call();
      // It exists but is switched off: 403, as Bifrost answers, not the 401 of an unknown credential.
      expect(response.status, route).toBe(403);
      // Anthropic's routes answer in Anthropic's shape, whose `type` carries the error's kind.
      expect(await typeOf(response), route).toMatch(/virtual_key_blocked|permission_error/);
    }
  });

  it("refuses a revoked ephemeral token on every route before reading the body", async () => {
    const parent = await virtualKey("revoking-parent", { provider_configs: [{ provider: "vllm" }] });
    const minted = await postJson("/api/governance/virtual-keys/ephemeral-tokens", { allowed_origin: APP }, { "x-bf-vk": parent });
    expect(minted.status).toBe(200);
    const { token, id } = (await minted.json()) as { token: string; id: string };
    expect((await gateway("/v1/models", { headers: { authorization: `Bearer ${token}`, origin: APP } })).status).toBe(200);
    expect((await gateway(`/api/governance/virtual-keys/ephemeral-tokens/${id}`, { method: "DELETE", headers: { "x-bf-vk": parent } })).status).toBe(200);
    for (const [route, call] of Object.entries(everyRoute({ authorization: `Bearer ${token}`, origin: APP }))) {
      const response = await call();
      expect(response.status, route).toBe(401);
      expect(await typeOf(response), route).toMatch(/ephemeral_token_revoked|authentication_error/);
    }
  });

  it("lists only the models of the provider keys a virtual key may use", async () => {
    const onlyA = await virtualKey("key-ids-a", { provider_configs: [{ provider: "vllm", key_ids: ["gpu-a"] }] });
    const both = await virtualKey("key-ids-all", { provider_configs: [{ provider: "vllm" }] });
    const ids = async (key: string) => ((await (await gateway("/v1/models", { headers: { "x-bf-vk": key } })).json()) as { data: { id: string }[] }).data.map((m) => m.id);
    expect(await ids(onlyA)).toEqual([`vllm/${LLAMA}`]);
    expect(await ids(both)).toEqual(["vllm/BAAI/bge-m3", `vllm/${LLAMA}`]);
  });
});

describe("a key's id or name sent as its credential", () => {
  it("is a 401 naming the mistake, not a keyless request", async () => {
    await virtualKey("vk-free", { name: "Free tier", provider_configs: [{ provider: "vllm" }] });
    const body = { model: `vllm/${LLAMA}`, messages: [{ role: "user", content: "hi" }] };
    const attempts: Record<string, string>[] = [{ authorization: "Bearer vk-free" }, { authorization: "Bearer Free tier" }, { "x-api-key": "vk-free" }, { "x-bf-vk": "vk-free" }];
    for (const headers of attempts) {
      const response = await postJson("/v1/chat/completions", body, headers);
      expect(response.status, JSON.stringify(headers)).toBe(401);
      const error = await errorOf(response);
      expect(error.code).toBe("virtual_key_name_as_credential");
      expect(error.message).toContain("is the id or name of a virtual key, not its credential");
      expect(error.message).toContain("sk-bf-");
    }
    // An SDK's placeholder key is still a keyless request where those are allowed.
    expect((await postJson("/v1/chat/completions", body, { authorization: "Bearer unused" })).status).toBe(200);
  });
});
