/** "Test connection" and per-key health: what an admin sees of each origin, found or failing, never a 500. */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { LLAMA, admin, configure, errorOf, origin, postJson } from "./helpers";

interface KeyHealth {
  key_id: string;
  key_name: string;
  enabled: boolean;
  circuit: { state: string; consecutive_failures: number; open_until: string | null; in_flight: number; last_success_at: string | null };
  probe: { healthy: boolean; checked_at: string; waiting: number | null; kv_cache_usage: number | null } | null;
}

const key = (name: string, url: string) => ({ id: name, name, models: ["*"], weight: 1, vllm_key_config: { url } });

beforeAll(async () => {
  await configure({
    vllm: { keys: [key("busy-gpu", origin("queued")), key("idle-gpu", origin("idle"))] },
    // One origin that refuses connections, with no retries, so each request is exactly one failure.
    sgl: { keys: [key("dead-gpu", env.REFUSED_URL)], network_config: { max_retries: 0 } },
  });
});

async function health(provider: string): Promise<{ probe: { enabled: boolean; metrics: boolean; probed: boolean }; circuit: { failure_threshold: number; cooldown_seconds: number }; keys: KeyHealth[] }> {
  const response = await admin("GET", `/api/providers/${provider}/health`);
  expect(response.status, await response.clone().text()).toBe(200);
  return response.json();
}

async function test(provider: string, keyId: string): Promise<Record<string, unknown>> {
  const response = await admin("POST", `/api/providers/${provider}/keys/${keyId}/test`);
  expect(response.status, await response.clone().text()).toBe(200);
  return response.json();
}

describe("test connection", () => {
  it("lists the origin's models and reads vLLM's load", async () => {
    const result = await test("vllm", "busy-gpu");
    expect(result).toMatchObject({ ok: true, models: expect.arrayContaining([`vllm/${LLAMA}`]), health: { healthy: true, waiting: 7, kv_cache_usage: 0.42 } });
    expect(result.latency_ms).toBeGreaterThanOrEqual(0);
  });

  it("reports a dead origin as a finding: its status, code and message", async () => {
    const result = await test("sgl", "dead-gpu");
    expect(result).toMatchObject({ ok: false, status: 502, code: "upstream_unreachable", health: { healthy: false, waiting: null, kv_cache_usage: null } });
    expect(String(result.error)).toContain("provider 'sgl' key 'dead-gpu'");
  });

  it("answers 404 for a key or provider that does not exist", async () => {
    expect((await errorOf(await admin("POST", "/api/providers/vllm/keys/nope/test"))).code).toBe("key_not_found");
    expect((await errorOf(await admin("POST", "/api/providers/nope/keys/x/test"))).code).toBe("provider_not_found");
    expect((await errorOf(await admin("GET", "/api/providers/nope/health"))).code).toBe("provider_not_found");
  });
});

describe("origin health", () => {
  it("shows a circuit tripped by failed requests, and one closed after a success", async () => {
    for (let i = 0; i < 3; i += 1) expect((await postJson("/v1/chat/completions", { model: `sgl/${LLAMA}`, messages: [{ role: "user", content: "hi" }] })).status).toBe(502);
    const before = Date.now();
    expect((await postJson("/v1/chat/completions", { model: `vllm/${LLAMA}`, messages: [{ role: "user", content: "hi" }] })).status).toBe(200);

    const dead = await health("sgl");
    expect(dead.circuit).toEqual({ failure_threshold: 3, cooldown_seconds: 1 });
    const [deadKey] = dead.keys;
    // Open for the one-second cool-down, half-open after it: tripped either way, until a request succeeds.
    expect(["open", "half_open"]).toContain(deadKey?.circuit.state);
    expect(deadKey?.circuit).toMatchObject({ consecutive_failures: 3, in_flight: 0, last_success_at: null });

    const served = (await health("vllm")).keys.find((k) => k.circuit.last_success_at !== null);
    expect(served?.circuit).toMatchObject({ state: "closed", consecutive_failures: 0, open_until: null, in_flight: 0 });
    expect(Date.parse(served?.circuit.last_success_at ?? "")).toBeGreaterThanOrEqual(before);
  });

  it("shows the scheduled probe's last verdict and vLLM's queue and KV-cache use", async () => {
    expect((await health("vllm")).keys.map((k) => k.probe)).toEqual([null, null]);
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: new Date("2026-11-21T10:05:00Z") }), { ...env, HEALTH_PROBE: "true", HEALTH_PROBE_METRICS: "true" }, ctx);
    await waitOnExecutionContext(ctx);
    const probed = await health("vllm");
    expect(probed.probe).toEqual({ enabled: false, metrics: false, probed: true });
    expect(probed.keys.map((k) => [k.key_name, k.probe?.healthy, k.probe?.waiting, k.probe?.kv_cache_usage])).toEqual([
      ["busy-gpu", true, 7, 0.42],
      ["idle-gpu", true, 0, 0.42],
    ]);
    expect((await health("sgl")).keys[0]?.probe).toMatchObject({ healthy: false, waiting: null, kv_cache_usage: null });
  });
});
