/** A virtual key's provider configs are chosen with the circuit breaker: a hung primary costs a few timeouts, not one per request. */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { applyProbeReports } from "../../src/routing/health";
import { LLAMA, configure, origin, received, virtualKey } from "./helpers";

/** A cool-down far longer than the test, so nothing depends on how fast the machine is. */
const settings = { ...env, CIRCUIT_COOLDOWN_SECONDS: "60" };

beforeAll(async () => {
  await configure({
    // The tutorial's "hybrid high availability": a self-hosted primary and a standby provider.
    "vllm-local": {
      keys: [{ name: "gpu", models: ["*"], value: "" }],
      network_config: { base_url: origin("hung"), default_request_timeout_in_seconds: 1 },
      custom_provider_config: { base_provider_type: "openai" },
    },
    standby: {
      keys: [{ name: "cloud", models: ["*"], value: "" }],
      network_config: { base_url: origin("standby") },
      custom_provider_config: { base_provider_type: "openai" },
    },
    // Two healthy GPUs: one whose vLLM reports a queue, one with room.
    "gpu-busy": {
      keys: [{ id: "busy-key", name: "busy", models: ["*"], value: "" }],
      network_config: { base_url: origin("busy") },
      custom_provider_config: { base_provider_type: "openai" },
    },
    // A primary and a standby replica of one provider, one pair per circuit test.
    ...Object.fromEntries(
      ["trial", "broken"].map((name) => [
        name,
        {
          keys: [
            { name: "primary", models: ["*"], weight: 1, vllm_key_config: { url: origin(`${name}-primary`) } },
            { name: "standby", models: ["*"], weight: 0, vllm_key_config: { url: origin(`${name}-standby`) } },
          ],
          network_config: { base_url: origin(`${name}-primary`), max_retries: 0 },
          custom_provider_config: { base_provider_type: "openai" },
        },
      ]),
    ),
    "gpu-spare": {
      keys: [{ id: "spare-key", name: "spare", models: ["*"], value: "" }],
      network_config: { base_url: origin("spare") },
      custom_provider_config: { base_provider_type: "openai" },
    },
  });
});

/** A chat request with a bare model name under `key`: which origins it reached, and the fallback that answered. */
async function askWith(key: string): Promise<{ origins: string[]; fallbackIndex: string | null }> {
  const requestId = crypto.randomUUID();
  const ctx = createExecutionContext();
  const request = new Request("http://gateway.test/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json", "x-bf-vk": key, "x-request-id": requestId },
    body: JSON.stringify({ model: "meta-llama/Llama-3.2-1B-Instruct", messages: [{ role: "user", content: "hi" }] }),
  });
  const response = await buildApp().fetch(request, settings, ctx);
  expect(response.status).toBe(200);
  await response.text();
  await waitOnExecutionContext(ctx);
  return { origins: (await received(requestId)).map((r) => r.origin), fallbackIndex: response.headers.get("x-bf-fallback-index") };
}

describe("load between a key's provider configs", () => {
  it("tries a config with room before one whose every origin has requests queued in vLLM", async () => {
    const key = await virtualKey("loaded", { provider_configs: [{ provider: "gpu-busy", weight: 1 }, { provider: "gpu-spare", weight: 0 }] });
    const ask = () => askWith(key);
    // The probe's last reading (HEALTH_PROBE_METRICS): the primary's vLLM has 5 requests waiting.
    applyProbeReports({ "gpu-busy/busy-key": { healthy: true, waiting: 5, checkedAt: Date.now() }, "gpu-spare/spare-key": { healthy: true, waiting: 0, checkedAt: Date.now() } }, 60_000);
    expect(await ask()).toEqual({ origins: ["spare"], fallbackIndex: "1" });
    // Its queue drained: the key's weights decide again.
    applyProbeReports({ "gpu-busy/busy-key": { healthy: true, waiting: 0, checkedAt: Date.now() } }, 60_000);
    expect(await ask()).toEqual({ origins: ["busy"], fallbackIndex: null });
  });

  it("forgets a probe's report once it expires: a stale queue or verdict no longer steers traffic", async () => {
    const key = await virtualKey("stale-probe", { provider_configs: [{ provider: "gpu-busy", weight: 1 }, { provider: "gpu-spare", weight: 0 }] });
    const taken = Date.now() - 120_000;
    // Taken two minutes ago, valid for one: as if probing had stopped since.
    applyProbeReports({ "gpu-busy/busy-key": { healthy: false, waiting: 5, checkedAt: taken } }, 60_000);
    expect(await askWith(key)).toEqual({ origins: ["busy"], fallbackIndex: null });
    // The same report, still valid, keeps the primary out.
    applyProbeReports({ "gpu-busy/busy-key": { healthy: false, waiting: 5, checkedAt: Date.now() } }, 60_000);
    expect(await askWith(key)).toEqual({ origins: ["spare"], fallbackIndex: "1" });
    applyProbeReports({ "gpu-busy/busy-key": { healthy: true, waiting: 0, checkedAt: Date.now() } }, 60_000);
  });
});

describe("choosing among a key's provider configs", () => {
  it("stops waiting on a hung primary once its circuit is open, and says which fallback answered", async () => {
    const key = await virtualKey("hybrid", { provider_configs: [{ provider: "vllm-local", weight: 1 }, { provider: "standby", weight: 0 }] });
    const ask = () => askWith(key);
    // Three requests wait out the primary's 1 s timeout, then the standby answers; the third failure opens the circuit.
    for (let i = 0; i < 3; i += 1) expect(await ask()).toEqual({ origins: ["hung", "standby"], fallbackIndex: "1" });
    // From now on, until the cool-down ends, the primary is not even tried: a run of a dozen sends it three.
    for (let i = 3; i < 12; i += 1) expect(await ask()).toEqual({ origins: ["standby"], fallbackIndex: "1" });
  }, 20_000);
});

/** One request through the gateway under `settings`: its status, body, and the origins it reached. */
async function send(settings: typeof env, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<{ status: number; text: string; origins: string[] }> {
  const requestId = crypto.randomUUID();
  const ctx = createExecutionContext();
  const request = new Request("http://gateway.test/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json", "x-request-id": requestId, ...headers }, body: JSON.stringify(body) });
  const response = await buildApp().fetch(request, settings, ctx);
  const text = await response.text();
  await waitOnExecutionContext(ctx);
  return { status: response.status, text, origins: (await received(requestId)).map((r) => r.origin) };
}

describe("the circuit breaker's verdicts", () => {
  it("lets the next request through as the trial when a trial got a 4xx, which says nothing of the origin's health", async () => {
    // One failure opens the circuit, for a millisecond.
    const quick = { ...env, CIRCUIT_FAILURE_THRESHOLD: "1", CIRCUIT_COOLDOWN_SECONDS: "0.001" };
    const pinned = { "x-bf-api-key": "primary" };
    expect(await send(quick, { model: "trial/server-error", messages: [] }, pinned)).toMatchObject({ status: 500, origins: ["trial-primary"] });
    // The trial (cooled down by now): the origin refuses the request itself.
    expect(await send(quick, { model: "trial/context-too-long", messages: [] }, pinned)).toMatchObject({ status: 400, origins: ["trial-primary"] });
    // The primary is tried again, not left waiting for a verdict that will never come.
    expect(await send(quick, { model: `trial/${LLAMA}`, messages: [{ role: "user", content: "hi" }] })).toMatchObject({ status: 200, origins: ["trial-primary"] });
  });

  it("opens on streams that break after their 200, as on any other failure", async () => {
    const patient = { ...env, CIRCUIT_FAILURE_THRESHOLD: "3", CIRCUIT_COOLDOWN_SECONDS: "60" };
    for (let i = 0; i < 3; i += 1) {
      const broken = await send(patient, { model: "broken/cut-stream", stream: true, messages: [{ role: "user", content: "hi" }] });
      expect(broken).toMatchObject({ status: 200, origins: ["broken-primary"] });
      expect(broken.text).toContain("stream_interrupted");
    }
    // Three in a row: the primary's circuit is open, and the standby answers.
    expect(await send(patient, { model: `broken/${LLAMA}`, messages: [{ role: "user", content: "hi" }] })).toMatchObject({ status: 200, origins: ["broken-standby"] });
  });
});
