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

async function put(path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${gatewayUrl}${path}`, { method: "PUT", headers: admin, body: JSON.stringify(body) });
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

function valueOf(answer: Record<string, unknown>): string {
  const value = (answer.virtual_key as { value?: string } | undefined)?.value ?? (answer.value as string | undefined);
  if (!value) throw new Error("no key value in the answer");
  return value;
}

async function keyWithLimits(id: string, requests: number): Promise<string> {
  const imported = await fetch(`${gatewayUrl}/api/config/import`, {
    method: "POST",
    headers: admin,
    body: JSON.stringify({ providers: { vllm: { keys: [{ name: "vllm-local", value: "", models: ["*"], vllm_key_config: { url: `${fakeUrl}/o/default` } }] } } }),
  });
  expect(imported.status).toBe(200);
  return valueOf(
    await put(`/api/governance/virtual-keys/${id}`, {
      name: id,
      provider_configs: [{ provider: "vllm", weight: 1, allowed_models: ["*"] }],
      rate_limit: { request_max_limit: requests, request_reset_duration: "1h", token_max_limit: 1_000_000, token_reset_duration: "1h" },
    }),
  );
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

  it("admit exactly a team's window across two of its keys, each level's calls grouped apart", async () => {
    await put("/api/governance/teams/grouped-team", { name: "Grouped team", rate_limit: { request_max_limit: 30, request_reset_duration: "1h" } });
    const keys: string[] = [];
    for (const id of ["grouped-team-a", "grouped-team-b"]) {
      keys.push(valueOf(await put(`/api/governance/virtual-keys/${id}`, { name: id, team_id: "grouped-team", provider_configs: [{ provider: "vllm", weight: 1, allowed_models: ["*"] }], rate_limit: { request_max_limit: 20, request_reset_duration: "1h" } })));
    }
    const answers = await Promise.all(Array.from({ length: 50 }, (_, index) => chat(keys[index % 2] as string)));
    const statuses = answers.map((answer) => answer.status);
    await Promise.all(answers.map((answer) => answer.text()));
    // 25 asked on each key (limit 20 each), the team allows 30 in all: the team's limit is the one that binds.
    expect(statuses.filter((status) => status === 200)).toHaveLength(30);
    expect(statuses.filter((status) => status === 429)).toHaveLength(20);
    const usage = (await (await fetch(`${gatewayUrl}/api/governance/teams/grouped-team/usage`, { headers: admin })).json()) as { usage: Quota };
    expect(usage.usage.rate_limits[0]?.requests?.current_usage).toBe(30);
    // A request a key admitted but the team refused is given back at the key, so the keys' windows add up to 30 too.
    const perKey = await Promise.all(
      keys.map(async (key) => ((await (await fetch(`${gatewayUrl}/api/governance/virtual-keys/quota`, { headers: { authorization: `Bearer ${key}` } })).json()) as Quota).rate_limits[0]?.requests?.current_usage),
    );
    expect((perKey[0] ?? 0) + (perKey[1] ?? 0)).toBe(30);
  });
});
