/**
 * Admission and settlement grouped into shared limiter calls (GROUP_LIMITER_CALLS, on by default), in the runtime
 * mode production runs — where a request woken by another request's call goes on in its own context. Concurrent
 * requests on one key still meet its limits exactly, and every one of them is settled.
 */
import { describe, expect, inject, it } from "vitest";

const LLAMA = "meta-llama/Llama-3.2-1B-Instruct";
const gatewayUrl = inject("gatewayUrl");
const fakeUrl = inject("e2eFakeVllmUrl");
const admin = { authorization: "Bearer e2e-admin-token", "content-type": "application/json" };

interface Window {
  max_limit: number;
  current_usage: number;
  reserved?: number;
}
interface Quota {
  rate_limits: { scope: string; requests: Window | null; tokens: Window | null }[];
  concurrency: { in_flight: number };
}

async function keyWithLimits(id: string, requests: number): Promise<string> {
  const imported = await fetch(`${gatewayUrl}/api/config/import`, {
    method: "POST",
    headers: admin,
    body: JSON.stringify({ providers: { vllm: { keys: [{ name: "vllm-local", value: "", models: ["*"], vllm_key_config: { url: `${fakeUrl}/o/default` } }] } } }),
  });
  expect(imported.status).toBe(200);
  const created = await fetch(`${gatewayUrl}/api/governance/virtual-keys/${id}`, {
    method: "PUT",
    headers: admin,
    body: JSON.stringify({
      name: id,
      provider_configs: [{ provider: "vllm", weight: 1, allowed_models: ["*"] }],
      rate_limit: { request_max_limit: requests, request_reset_duration: "1h", token_max_limit: 1_000_000, token_reset_duration: "1h" },
    }),
  });
  expect(created.status, await created.clone().text()).toBe(200);
  const body = (await created.json()) as { virtual_key?: { value?: string }; value?: string };
  const value = body.virtual_key?.value ?? body.value;
  if (!value) throw new Error("no key value in the answer");
  return value;
}

const chat = (key: string) =>
  fetch(`${gatewayUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: `vllm/${LLAMA}`, max_tokens: 16, messages: [{ role: "user", content: "x" }] }),
  });

describe("grouped limiter calls", () => {
  it("admit exactly a request window's worth of 60 concurrent requests, and settle every one", async () => {
    const key = await keyWithLimits("grouped-window", 25);
    // One request alone first: its usage is what each of the others uses (the fake answers "x" the same way).
    const first = await chat(key);
    expect(first.status).toBe(200);
    const { usage } = (await first.json()) as { usage: { total_tokens: number } };
    expect(usage.total_tokens).toBe(11);

    const answers = await Promise.all(Array.from({ length: 60 }, () => chat(key)));
    const statuses = answers.map((answer) => answer.status);
    await Promise.all(answers.map((answer) => answer.text()));
    expect(statuses.filter((status) => status === 200)).toHaveLength(24);
    expect(statuses.filter((status) => status === 429)).toHaveLength(36);

    // Every admitted request was settled before its answer ended: nothing is left reserved, the windows are exact.
    const quota = (await (await fetch(`${gatewayUrl}/api/governance/virtual-keys/quota`, { headers: { authorization: `Bearer ${key}` } })).json()) as Quota;
    const own = quota.rate_limits.find((limit) => limit.scope === "vk");
    expect(own?.requests?.current_usage).toBe(25);
    expect(own?.tokens?.current_usage).toBe(25 * 11);
    expect(own?.tokens?.reserved).toBe(0);
    expect(quota.concurrency.in_flight).toBe(0);
  });
});
