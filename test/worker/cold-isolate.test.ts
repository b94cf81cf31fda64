/**
 * A cold isolate hit by concurrent requests: each request loads what it needs itself and shares only resolved
 * values, so none hangs on I/O that belongs to another request (which the platform may cancel when that one ends).
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { lastResolved } from "../../src/config/last-resolved";
import { forgetCachedConfig, getRoutingTable } from "../../src/config/store";
import type { Env } from "../../src/env";
import { LLAMA, configure, gateway, origin } from "./helpers";

beforeAll(async () => {
  await configure({ vllm: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin("default") } }] } });
});

/** The test environment with its KV reads counted. */
function countingEnv(): { env: Env; reads: () => number } {
  let reads = 0;
  const kv = env.CONFIG_KV;
  const counted = new Proxy(kv, {
    get(target, property) {
      if (property === "get") {
        return (...args: Parameters<KVNamespace["get"]>) => {
          reads += 1;
          return (target.get as (...a: unknown[]) => Promise<unknown>)(...args);
        };
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { env: { ...(env as unknown as Env), CONFIG_KV: counted }, reads: () => reads };
}

describe("a cold isolate", () => {
  it("loads the routing table once per concurrent request, then serves it from memory", async () => {
    forgetCachedConfig();
    const { env: counted, reads } = countingEnv();
    const background: Promise<unknown>[] = [];
    const tables = await Promise.all(Array.from({ length: 5 }, () => getRoutingTable(counted, (promise) => background.push(promise))));
    expect(reads()).toBe(5);
    expect(new Set(tables.map((table) => table.version)).size).toBe(1);
    await getRoutingTable(counted, (promise) => background.push(promise));
    expect(reads()).toBe(5);
    expect(background).toHaveLength(0);
  });

  it("answers every concurrent request, whichever of them the client abandons", async () => {
    forgetCachedConfig();
    const body = JSON.stringify({ model: `vllm/${LLAMA}`, messages: [{ role: "user", content: "hi" }], max_tokens: 5 });
    const abandoned = new AbortController();
    const requests = Array.from({ length: 8 }, (_, i) =>
      gateway("/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" }, body, ...(i === 0 ? { signal: abandoned.signal } : {}) }),
    );
    abandoned.abort();
    const [first, ...rest] = await Promise.allSettled(requests);
    expect(first?.status).toBe("rejected");
    const statuses = await Promise.all(rest.map(async (settled) => (settled.status === "fulfilled" ? settled.value.status : 0)));
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200]);
  });
});

describe("lastResolved", () => {
  it("shares only resolved values: concurrent first calls each compute, later ones reuse, failures are not kept", async () => {
    let computed = 0;
    let fail = false;
    const derive = lastResolved(async (input: string) => {
      computed += 1;
      const run = computed;
      await Promise.resolve();
      if (fail) throw new Error("derivation failed");
      return `${input}:${run}`;
    });
    const [a, b] = await Promise.all([derive("s"), derive("s")]);
    expect(computed).toBe(2);
    expect([a, b]).toEqual(["s:1", "s:2"]);
    expect(await derive("s")).toBe("s:2");
    expect(computed).toBe(2);
    fail = true;
    await expect(derive("t")).rejects.toThrow("derivation failed");
    fail = false;
    expect(await derive("t")).toBe("t:4");
  });
});
