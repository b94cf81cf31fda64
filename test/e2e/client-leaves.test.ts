/**
 * Clients that leave, as the platform reports it — the request is cancelled inside the runtime (client-front.ts) —
 * in the runtime mode production runs: limiter calls grouped, requests woken by others' calls. A leaver is released
 * uncharged at once, and the requests whose admissions and settlements share calls with the leavers' releases are
 * answered and charged exactly. (That the origin's connection closes is disconnect.test.ts's: this harness sends the
 * gateway's subrequests through an outbound Worker of its own, which lets the origin's request run on.)
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestHarness } from "wrangler";
import type { RecordedRequest } from "../support/recorded";

const LLAMA = "meta-llama/Llama-3.2-1B-Instruct";
const fakeUrl = inject("e2eFakeVllmUrl");
const ADMIN_TOKEN = "client-leaves-admin-token";
const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };

interface Window {
  current_usage: number;
  reserved?: number;
}
interface Quota {
  rate_limits: { scope: string; requests: Window | null; tokens: Window | null }[];
  concurrency: { in_flight: number };
}

let server: ReturnType<typeof createTestHarness> | undefined;
let base = "";

beforeAll(async () => {
  server = createTestHarness({
    workers: [
      { config: { name: "client-front", main: "./test/e2e/client-front.ts", compatibility_date: "2026-11-01", services: [{ binding: "GATEWAY", service: "vllm-edge-gateway" }] } },
      { configPath: "./wrangler.toml", vars: { DEFAULT_VLLM_URL: `${fakeUrl}/o/default`, REQUIRE_VIRTUAL_KEY: "false" }, secrets: { ADMIN_TOKEN } },
    ],
  });
  base = (await server.listen()).url.origin;
  await server.getWorker("vllm-edge-gateway").applyD1Migrations("DB");
}, 120_000);

afterAll(async () => {
  await server?.close();
});

const chat = (key: string, model: string, extra: Record<string, string> = {}) =>
  fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...extra },
    body: JSON.stringify({ model: `vllm/${model}`, max_tokens: 16, messages: [{ role: "user", content: "x" }] }),
  });

async function quotaOf(key: string): Promise<Quota> {
  return (await (await fetch(`${base}/api/governance/virtual-keys/quota`, { headers: { authorization: `Bearer ${key}` } })).json()) as Quota;
}

/** Reads until `done` holds for what `read` returns or `withinMs` pass, and returns the last reading. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, withinMs: number): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function recorded(requestId: string): Promise<RecordedRequest[]> {
  return (await (await fetch(`${fakeUrl}/__log?request_id=${requestId}`)).json()) as RecordedRequest[];
}

/** What the fake origin recorded of a request, once it has seen it end: answered, or closed early by the gateway. */
function ended(requestId: string): Promise<RecordedRequest[]> {
  return until(() => recorded(requestId), (log) => log[0]?.closedEarly === true || log[0]?.finished === true, 10_000);
}

describe("clients that leave", () => {
  it("are released uncharged while the requests sharing limiter calls with them are answered and charged exactly", async () => {
    const created = await fetch(`${base}/api/governance/virtual-keys/leavers`, {
      method: "PUT",
      headers: admin,
      body: JSON.stringify({
        name: "leavers",
        provider_configs: [{ provider: "vllm", weight: 1, allowed_models: ["*"] }],
        max_concurrent_requests: 20,
        rate_limit: { request_max_limit: 1000, request_reset_duration: "1h", token_max_limit: 1_000_000, token_reset_duration: "1h" },
      }),
    });
    expect(created.status, await created.clone().text()).toBe(200);
    const key = ((await created.json()) as { virtual_key: { value: string } }).virtual_key.value;

    // Three requests the origin holds for 3 s before answering; their clients leave after 400 ms.
    const leaverIds = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    const leaving = Promise.all(leaverIds.map((id) => chat(key, "slow-headers", { "x-request-id": id, "x-leave-after-ms": "400" })));
    let leaversDone = false;
    void leaving.finally(() => (leaversDone = true));

    // Meanwhile requests keep coming, five at a time, until the leavers have left: the key's limiter line serves both.
    const stayers: number[] = [];
    const tokens: number[] = [];
    while (!leaversDone) {
      const answers = await Promise.all(Array.from({ length: 5 }, () => chat(key, LLAMA)));
      for (const answer of answers) {
        stayers.push(answer.status);
        tokens.push(((await answer.json()) as { usage: { total_tokens: number } }).usage.total_tokens);
      }
    }
    expect((await leaving).map((answer) => answer.status)).toEqual([499, 499, 499]);
    expect(stayers.length).toBeGreaterThanOrEqual(5);
    expect(stayers).toEqual(stayers.map(() => 200));
    expect(tokens).toEqual(tokens.map(() => 11));

    // Released as they left, before the origin would have answered them (3 s after they came): nothing is held.
    const released = await until(() => quotaOf(key), (quota) => quota.concurrency.in_flight === 0, 2000);
    expect(released.concurrency.in_flight).toBe(0);
    expect(released.rate_limits.find((limit) => limit.scope === "vk")?.tokens?.reserved).toBe(0);
    const originAnswers = await Promise.all(leaverIds.map((id) => recorded(id)));
    expect(originAnswers.map((log) => log.length)).toEqual([1, 1, 1]);
    expect(originAnswers.map((log) => log[0]?.finished ?? false)).toEqual([false, false, false]);

    // Once the origin is done with them too, only the requests that stayed are charged; the leavers reached the
    // origin, so they count as requests.
    await Promise.all(leaverIds.map((id) => ended(id)));
    const quota = await quotaOf(key);
    const own = quota.rate_limits.find((limit) => limit.scope === "vk");
    expect(quota.concurrency.in_flight).toBe(0);
    expect(own?.tokens?.reserved).toBe(0);
    expect(own?.tokens?.current_usage).toBe(stayers.length * 11);
    expect(own?.requests?.current_usage).toBe(stayers.length + 3);
  });
});
