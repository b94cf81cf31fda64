/** Refused requests are logged under what is known of them: the key that sent them, the model they asked for. */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { LLAMA, admin, configure, eventually, gateway, origin, postJson, virtualKey } from "./helpers";

beforeAll(async () => {
  await configure({
    vllm: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin("default") } }] },
    // Refuses every connection: each request makes 1 + max_retries attempts and fails.
    unreachable: {
      keys: [{ name: "gone", models: ["*"], value: "" }],
      network_config: { base_url: env.REFUSED_URL, max_retries: 2, retry_backoff_initial: 10, retry_backoff_max: 10 },
      custom_provider_config: { base_provider_type: "openai" },
    },
  });
});

async function logged(requestId: string): Promise<Record<string, unknown> | undefined> {
  const rows = await eventually(
    async () => ((await (await admin("GET", `/api/logs?request_id=${requestId}`)).json()) as { logs: Record<string, unknown>[] }).logs,
    (found) => found.length === 1,
    5000,
  );
  return rows[0];
}

describe("failed requests in the request log", () => {
  it("count the attempts made, in the log and in x-bf-attempts", async () => {
    const failed = await postJson("/v1/chat/completions", { model: "unreachable/m", messages: [{ role: "user", content: "hi" }] }, { "x-request-id": "attempts-failed" });
    expect(failed.status).toBe(502);
    expect(failed.headers.get("x-bf-attempts")).toBe("3");
    expect(await logged("attempts-failed")).toMatchObject({ status: 502, attempts: 3, provider: "unreachable", provider_key: "gone", stream: false });
  });

  it("log a stream that failed before any event as a stream", async () => {
    const failed = await postJson("/v1/chat/completions", { model: "unreachable/m", stream: true, messages: [{ role: "user", content: "hi" }] }, { "x-request-id": "stream-failed" });
    expect(failed.status).toBe(502);
    expect(await logged("stream-failed")).toMatchObject({ status: 502, stream: true });
  });
});

describe("refused requests in the request log", () => {
  it("carry the key that sent them and the model they named", async () => {
    const key = await virtualKey("attributed", { provider_configs: [{ provider: "vllm" }] });
    const inactive = await virtualKey("attributed-inactive", { provider_configs: [{ provider: "vllm" }] });
    expect((await admin("PUT", "/api/governance/virtual-keys/attributed-inactive", { is_active: false })).status).toBe(200);

    const blocked = await postJson("/v1/chat/completions", { model: `vllm/${LLAMA}`, messages: [] }, { "x-bf-vk": inactive, "x-request-id": "attributed-blocked" });
    expect(blocked.status).toBe(403);
    expect(await logged("attributed-blocked")).toMatchObject({ status: 403, error_code: "virtual_key_blocked", virtual_key_name: "attributed-inactive" });

    const unpinned = await postJson("/v1/chat/completions", { model: `vllm/${LLAMA}`, messages: [] }, { "x-bf-vk": key, "x-bf-api-key": "no-such-key", "x-request-id": "attributed-pin" });
    expect(unpinned.status).toBe(400);
    expect(await logged("attributed-pin")).toMatchObject({ status: 400, error_code: "pinned_key_not_found", virtual_key_name: "attributed", model: `vllm/${LLAMA}` });

    // Refused by the endpoint before the pipeline runs: the key that authenticated still owns the row.
    const malformed = await gateway("/v1/audio/transcriptions", {
      method: "POST",
      headers: { "content-type": "multipart/form-data", "x-bf-vk": key, "x-request-id": "attributed-upload" },
      body: "no boundary",
    });
    expect(malformed.status).toBe(400);
    expect(await logged("attributed-upload")).toMatchObject({ status: 400, virtual_key_name: "attributed" });
  });
});
