/** The optional scheduled probe: dead origins found without traffic, and vLLM's queue length weighing replicas. */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { buildApp } from "../../src/app";
import { forgetCachedConfig } from "../../src/config/store";
import worker from "../../src/index";
import { PROBE_KV_KEY, type ProbeReports } from "../../src/routing/probe";
import { LLAMA, configure, origin, received } from "./helpers";

const probing = { ...env, HEALTH_PROBE: "true", HEALTH_PROBE_METRICS: "true" };
const replica = (name: string) => ({ id: name, name, models: ["*"], vllm_key_config: { url: origin(name) } });

beforeAll(async () => {
  await configure({
    probed: { keys: [replica("sick"), replica("well")], network_config: { base_url: origin("well") }, custom_provider_config: { base_provider_type: "openai" } },
    loaded: { keys: [replica("queued"), replica("idle")], network_config: { base_url: origin("idle") }, custom_provider_config: { base_provider_type: "openai" } },
    openai: { keys: [{ name: "cloud", value: "sk-test" }] },
  });
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime: new Date("2026-11-21T10:05:00Z") }), probing, ctx);
  await waitOnExecutionContext(ctx);
});

async function servedBy(model: string, count: number): Promise<Set<string | undefined>> {
  forgetCachedConfig(); // the next request reloads config — and the probe's reports — from KV
  const app = buildApp();
  const origins = new Set<string | undefined>();
  for (let i = 0; i < count; i += 1) {
    const id = `probe-${model.split("/")[0]}-${i}-${crypto.randomUUID()}`;
    const ctx = createExecutionContext();
    const response = await app.fetch(new Request("http://gateway.test/v1/chat/completions", { method: "POST", headers: { "x-request-id": id }, body: JSON.stringify({ model, messages: [] }) }), probing, ctx);
    expect(response.status).toBe(200);
    await response.text();
    origins.add((await received(id))[0]?.origin);
  }
  return origins;
}

describe("scheduled origin probe", () => {
  it("records /health and vLLM's load for self-hosted origins only", async () => {
    const reports = (await env.CONFIG_KV.get<ProbeReports>(PROBE_KV_KEY, "json")) ?? {};
    const byName = (name: string) => Object.entries(reports).find(([key]) => key.endsWith(`/${name}`))?.[1];
    expect(byName("sick")?.healthy).toBe(false);
    expect(byName("well")).toMatchObject({ healthy: true, waiting: 0, kvCacheUsage: 0.42 });
    expect(byName("queued")?.waiting).toBe(7);
    expect(Object.keys(reports).some((key) => key.startsWith("openai/"))).toBe(false);
  });

  it("keeps traffic off an origin the probe found down, though nothing was sent to it", async () => {
    expect(await servedBy(`probed/${LLAMA}`, 12)).toEqual(new Set(["well"]));
  });

  it("gives the replica with a vLLM queue a share in proportion: its weight over one more than its queue", async () => {
    // Equal weights, 7 requests waiting at one replica: shares 1/8 : 1, so only the top ninth of the weighted draw
    // goes to the queued replica. The draw is the runtime's Math.random, fixed here.
    const draw = vi.spyOn(Math, "random");
    try {
      draw.mockReturnValue(0.5);
      expect(await servedBy(`loaded/${LLAMA}`, 6)).toEqual(new Set(["idle"]));
      draw.mockReturnValue(0.95);
      expect(await servedBy(`loaded/${LLAMA}`, 6)).toEqual(new Set(["queued"]));
    } finally {
      draw.mockRestore();
    }
  });
});
