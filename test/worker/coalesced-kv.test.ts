/** A limiter's writes within one call reach storage once per key, with the value the call left, and none is lost. */
import { describe, expect, it } from "vitest";
import { coalescedKv } from "../../src/governance/coalesced-kv";
import { LimiterCore } from "../../src/governance/limiter-core";
import { KEY_SCOPE, type AdmitDecision, type AdmitRequest, type LimiterConfig } from "../../src/governance/limits";
import type { LimiterKv } from "../../src/governance/limiter-storage";

/** An in-memory store that records every write it receives. */
function recordingKv() {
  const data = new Map<string, unknown>();
  const writes: string[] = [];
  const kv: LimiterKv = {
    get: <T>(key: string) => data.get(key) as T | undefined,
    put: (key, value) => {
      writes.push(`put ${key}=${JSON.stringify(value)}`);
      data.set(key, value);
    },
    delete: (key) => {
      writes.push(`delete ${key}`);
      return data.delete(key);
    },
    list: <T>(options: { prefix: string }) => [...data].filter(([key]) => key.startsWith(options.prefix)) as [string, T][],
  };
  return { kv, data, writes };
}

describe("a limiter's coalesced storage", () => {
  it("writes each key once per batch, with its last value, and deletes what the batch deleted", () => {
    const store = recordingKv();
    store.data.set("r:old", { tokens: 5 });
    const kv = coalescedKv(store.kv);
    const answer = kv.batch(() => {
      kv.put("c:tokens", { usage: 10 });
      kv.put("r:a", { tokens: 3 });
      kv.put("c:tokens", { usage: 25 });
      kv.delete("r:old");
      kv.put("r:b", { tokens: 4 });
      kv.delete("r:b");
      // Reads within the batch see its own writes.
      expect(kv.get("c:tokens")).toEqual({ usage: 25 });
      expect(kv.get("r:old")).toBeUndefined();
      expect(store.writes).toEqual([]);
      return "answered";
    });
    expect(answer).toBe("answered");
    expect(store.writes).toEqual(['put c:tokens={"usage":25}', 'put r:a={"tokens":3}', "delete r:old", "delete r:b"]);
    expect([...store.data.keys()].sort()).toEqual(["c:tokens", "r:a"]);
  });

  it("writes through outside a batch, and still writes what a batch held when it throws", () => {
    const store = recordingKv();
    const kv = coalescedKv(store.kv);
    kv.put("config", { active: true });
    expect(store.writes).toEqual(['put config={"active":true}']);
    expect(() =>
      kv.batch(() => {
        kv.put("c:requests", { usage: 1 });
        kv.batch(() => kv.put("c:requests", { usage: 2 }));
        throw new Error("an operation failed");
      }),
    ).toThrow("an operation failed");
    expect(store.writes).toEqual(['put config={"active":true}', 'put c:requests={"usage":2}']);
    expect(kv.list({ prefix: "c:" })).toEqual([["c:requests", { usage: 2 }]]);
  });

  it("stores a grouped call of admissions and settlements with one write per counter, and the counts a restart reads back", () => {
    const store = recordingKv();
    const kv = coalescedKv(store.kv);
    const core = new LimiterCore({ kv, setAlarm: () => undefined, now: () => 1_000_000, defaultLeaseShare: () => 0 });
    const config: LimiterConfig = {
      name: "grouped",
      active: true,
      maxConcurrent: null,
      budgets: [{ id: "b1", scope: KEY_SCOPE, max_limit: 100, reset_duration: "1d", calendar_aligned: false }],
      rateLimits: [{ scope: KEY_SCOPE, request_max_limit: 10, request_reset_duration: "1h", token_max_limit: 10_000, token_reset_duration: "1h", calendar_aligned: false }],
    };
    core.configure(config);
    const request: AdmitRequest = { scope: null, promptTokens: 10, completionTokens: 20, choices: 1, flexible: false, minCompletionTokens: 1, fixedNanos: 100, nanosPerCompletionToken: 5, ttlMs: 60_000 };
    store.writes.length = 0;
    // What one call from limiter-line.ts carries: three admissions, then (next call) their three settlements.
    const admitted = kv.batch(() => [core.admit(request), core.admit(request), core.admit(request)]) as (AdmitDecision & { ok: true })[];
    expect(admitted.map((decision) => decision.ok)).toEqual([true, true, true]);
    expect(store.writes.filter((write) => write.startsWith("put c:"))).toEqual(['put c:requests:vk={"usage":3,"start":1000000}']);
    expect(store.writes.filter((write) => write.startsWith("put r:"))).toHaveLength(3);
    store.writes.length = 0;
    kv.batch(() => core.settle(admitted.map((decision) => ({ reservationId: decision.reservationId, scope: null, tokens: 15, nanos: 200 }))));
    expect(store.writes.filter((write) => write.startsWith("put c:")).sort()).toEqual(['put c:budget:b1={"usage":600,"start":1000000}', 'put c:tokens:vk={"usage":45,"start":1000000}']);
    expect(store.writes.filter((write) => write.startsWith("delete r:"))).toHaveLength(3);
    // A limiter started over the same storage (a restart) reads the same counts and holds nothing.
    const restarted = new LimiterCore({ kv: coalescedKv(store.kv), setAlarm: () => undefined, now: () => 1_000_000, defaultLeaseShare: () => 0 });
    const quota = restarted.quota();
    expect(quota?.rate_limits[0]?.requests).toMatchObject({ current_usage: 3, reserved: 0 });
    expect(quota?.rate_limits[0]?.tokens).toMatchObject({ current_usage: 45, reserved: 0 });
    expect(quota?.budgets[0]).toMatchObject({ id: "b1", reserved: 0 });
    expect(quota?.concurrency.in_flight).toBe(0);
    expect([...store.data.keys()].filter((key) => key.startsWith("r:"))).toEqual([]);
  });
});
