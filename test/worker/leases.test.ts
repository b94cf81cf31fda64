/**
 * Leased admission: a limiter lends this isolate a slice of its allowance, requests are admitted from it with no
 * round trip, usage is reported in batches, and a lease that is not renewed gives its allowance back. With a share
 * of 0 every request asks the limiter, as before.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { forgetLeases } from "../../src/governance/admission-ticket";
import type { LeaseReply, LimiterConfig } from "../../src/governance/limits";
import { LLAMA, admin, configure, eventually, origin, postJson, quota, virtualKey } from "./helpers";

const HI = { model: `vllm/${LLAMA}`, messages: [{ role: "user", content: "hi" }], max_tokens: 3 };
/** A lease request that asks for as much as the limiter will give. */
const ASK_ALL = { requests: Number.MAX_SAFE_INTEGER, tokens: Number.MAX_SAFE_INTEGER, nanos: Number.MAX_SAFE_INTEGER, slots: Number.MAX_SAFE_INTEGER };
const limiter = (name: string) => env.VK_LIMITER.get(env.VK_LIMITER.idFromName(name));

/** Counts the limiter's own admissions (round trips) from now on. */
async function countAdmissions(name: string): Promise<() => Promise<number>> {
  await runInDurableObject(limiter(name), (instance) => {
    const core = (instance as unknown as { core: { admit: (...args: unknown[]) => unknown; admissions?: number } }).core;
    const admit = core.admit.bind(core);
    core.admissions = 0;
    core.admit = (...args: unknown[]) => {
      core.admissions = (core.admissions ?? 0) + 1;
      return admit(...args);
    };
  });
  return () => runInDurableObject(limiter(name), (instance) => (instance as unknown as { core: { admissions: number } }).core.admissions);
}

const chat = (key: string) => postJson("/v1/chat/completions", HI, { "x-bf-vk": key });
const requestsUsed = async (key: string) => (await quota(key)).rate_limits[0]?.requests?.current_usage;

beforeAll(async () => {
  await configure({ vllm: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin("default") } }] } });
});

beforeEach(() => forgetLeases());

describe("leased admission", () => {
  it("admits from the isolate's lease with no round trip, and the usage reaches the key's counters", async () => {
    const key = await virtualKey("leased-hot", { provider_configs: [{ provider: "vllm" }], lease_share: 0.5, rate_limit: { request_max_limit: 1000, request_reset_duration: "1h" } });
    const admissions = await countAdmissions("leased-hot");
    expect((await chat(key)).status).toBe(200);
    // The first request asked the limiter and started a lease in the background; the next ones use it.
    await eventually(async () => (await quota(key)).leases?.count, (count) => count === 1);
    for (let i = 0; i < 20; i++) expect((await chat(key)).status).toBe(200);
    expect(await admissions()).toBe(1);
    expect(await eventually(() => requestsUsed(key), (used) => used === 21)).toBe(21);
  });

  it("never admits more than a window holds, and the last of it is admitted centrally: exactly 40 in all", async () => {
    const key = await virtualKey("leased-exact", { provider_configs: [{ provider: "vllm" }], lease_share: 0.25, rate_limit: { request_max_limit: 40, request_reset_duration: "1h" } });
    const admissions = await countAdmissions("leased-exact");
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await chat(key)).status);
    statuses.push(...(await Promise.all(Array.from({ length: 40 }, () => chat(key)))).map((answer) => answer.status));
    // Never more than the window, even while a lease holds part of it.
    expect(statuses.filter((status) => status === 200).length).toBeLessThanOrEqual(40);
    // A refusal while a lease still holds some of the window says so, and asks for a short wait.
    for (const [i, status] of statuses.entries()) if (status !== 200) expect(status, String(i)).toBe(429);
    // Once the lease has reported (and, so near the limit, given back what it held), the window fills exactly.
    await eventually(async () => (await quota(key)).rate_limits[0]?.requests, (requests) => requests !== null && requests !== undefined && requests.current_usage === statuses.filter((s) => s === 200).length);
    for (let i = 0; i < 20; i++) statuses.push((await chat(key)).status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(40);
    expect(statuses.slice(-1)).toEqual([429]);
    // Some of the 40 came from the lease: fewer reached the limiter.
    expect(await admissions()).toBeLessThan(statuses.length);
    expect(await eventually(() => requestsUsed(key), (used) => used === 40)).toBe(40);
  });

  it("carries a team's and a customer's allowance too: a request in a key of a team of a customer usually makes no round trip", async () => {
    const window = { rate_limit: { request_max_limit: 1000, request_reset_duration: "1h" }, lease_share: 0.5 };
    expect((await admin("PUT", "/api/governance/customers/lease-co", { name: "lease-co", ...window })).status).toBe(200);
    expect((await admin("PUT", "/api/governance/teams/lease-team", { name: "lease-team", customer_id: "lease-co", ...window })).status).toBe(200);
    const key = await virtualKey("lease-member", { provider_configs: [{ provider: "vllm" }], team_id: "lease-team", ...window });
    const counters = [await countAdmissions("lease-member"), await countAdmissions("team:lease-team"), await countAdmissions("customer:lease-co")];
    expect((await chat(key)).status).toBe(200);
    const leases = async () => Promise.all(["lease-member", "team:lease-team", "customer:lease-co"].map(async (name) => (await limiter(name).quota())?.leases.count));
    expect(await eventually(leases, (counts) => counts.every((count) => count === 1))).toEqual([1, 1, 1]);
    for (let i = 0; i < 20; i++) expect((await chat(key)).status).toBe(200);
    // Each level was asked once, by the first request; the next 20 were admitted from this isolate's three leases.
    expect(await Promise.all(counters.map((count) => count()))).toEqual([1, 1, 1]);
    const used = async () => Promise.all(["lease-member", "team:lease-team", "customer:lease-co"].map(async (name) => (await limiter(name).quota())?.rate_limits[0]?.requests?.current_usage));
    expect(await eventually(used, (counts) => counts.every((count) => count === 21))).toEqual([21, 21, 21]);
  });

  it("stops admitting a deactivated key within about a second, though its lease had room and nothing settled meanwhile", async () => {
    const key = await virtualKey("leased-deactivated", { provider_configs: [{ provider: "vllm" }], lease_share: 0.5, rate_limit: { request_max_limit: 1000, request_reset_duration: "1h" } });
    expect((await chat(key)).status).toBe(200);
    await eventually(async () => (await quota(key)).leases?.count, (count) => count === 1);
    expect((await chat(key)).status).toBe(200);
    // Deactivated elsewhere: only the key's object knows at once (this isolate's copy of the key is seconds old).
    await runInDurableObject(limiter("leased-deactivated"), (instance) => {
      const core = (instance as unknown as { core: { config: LimiterConfig; configure(config: LimiterConfig): void } }).core;
      core.configure({ ...core.config, active: false });
    });
    const started = Date.now();
    // Slow requests (3 s before their first byte), one every 100 ms: none settles, so only the lease's own freshness
    // makes the isolate ask the object again. An admitted one is still waiting after 100 ms; a refused one is not.
    const running: Promise<Response>[] = [];
    let refusedAfter = Number.POSITIVE_INFINITY;
    while (Date.now() - started < 2500) {
      const answer = postJson("/v1/chat/completions", { ...HI, model: "vllm/slow-headers" }, { "x-bf-vk": key });
      running.push(answer);
      const early = await Promise.race([answer.then((response) => response.status), new Promise<number>((resolve) => setTimeout(() => resolve(0), 100))]);
      if (early === 403) {
        refusedAfter = Date.now() - started;
        break;
      }
    }
    expect(refusedAfter).toBeLessThan(1500);
    await Promise.all(running.map(async (answer) => (await answer).text()));
  });

  it.each([
    ["leased-idle", {}],
    ["leased-idle-slots", { max_concurrent_requests: 20 }],
  ])("hands an idle lease's headroom back within a few seconds, long before the lease would expire (%s)", async (name, extra) => {
    const key = await virtualKey(name, { provider_configs: [{ provider: "vllm" }], lease_share: 0.5, rate_limit: { token_max_limit: 1_000_000, token_reset_duration: "1h" }, ...extra });
    for (let i = 0; i < 5; i++) expect((await chat(key)).status).toBe(200);
    const reserved = async () => (await quota(key)).rate_limits[0]?.tokens?.reserved;
    // While traffic runs, the lease holds headroom for more.
    expect(await eventually(reserved, (held) => (held ?? 0) > 0)).toBeGreaterThan(0);
    const started = Date.now();
    // Then nothing comes: the holder gives the headroom back (the lease itself lives 10 s).
    expect(await eventually(reserved, (held) => held === 0, 6000)).toBe(0);
    expect(Date.now() - started).toBeLessThan(6000);
    // Every token the five requests used was reported: 8 prompt + 3 completion each.
    expect((await quota(key)).rate_limits[0]?.tokens?.current_usage).toBe(55);
  });

  it("holds nothing beyond running requests when a lease could admit none (no concurrency slot to spare)", async () => {
    // Half of 3 slots rounds down to 1, and a lease never takes from the last share: no slot for leases at all.
    const key = await virtualKey("leased-no-slot", { provider_configs: [{ provider: "vllm" }], lease_share: 0.5, max_concurrent_requests: 3, rate_limit: { token_max_limit: 600, token_reset_duration: "1h" } });
    for (let i = 0; i < 3; i++) expect((await chat(key)).status).toBe(200);
    const tokens = (await quota(key)).rate_limits[0]?.tokens;
    // Every request was admitted by the object and settled; the lease the isolate took holds no tokens.
    expect([tokens?.current_usage, tokens?.reserved]).toEqual([33, 0]);
    const large = await postJson("/v1/chat/completions", { ...HI, max_tokens: 550 }, { "x-bf-vk": key });
    expect(large.status).toBe(200);
  });

  it("with a share of 0 asks the limiter for every request, exactly as strict admission", async () => {
    const key = await virtualKey("lease-zero", { provider_configs: [{ provider: "vllm" }], lease_share: 0, rate_limit: { request_max_limit: 3, request_reset_duration: "1h" } });
    const admissions = await countAdmissions("lease-zero");
    const reply = await limiter("lease-zero").lease({ leaseId: null, scope: null, used: { requests: 0, tokens: 0, nanos: 0 }, inFlight: { tokens: 0, nanos: 0, slots: 0 }, want: ASK_ALL, ttlMs: 10_000 });
    expect(reply).toEqual({ ok: false, reason: "strict" });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await chat(key)).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(await admissions()).toBe(5);
    expect((await quota(key)).leases?.count).toBe(0);
  });
});

describe("a lease", () => {
  it("holds its slice while alive, shrinks near the limit, and gives it all back when never renewed", async () => {
    const key = await virtualKey("lease-expiry", { provider_configs: [{ provider: "vllm" }], lease_share: 0.1, rate_limit: { request_max_limit: 100, request_reset_duration: "1h", token_max_limit: 10_000, token_reset_duration: "1h" } });
    const stub = limiter("lease-expiry");
    const ask = (inFlightTokens = 0): Promise<LeaseReply> =>
      stub.lease({ leaseId: null, scope: null, used: { requests: 0, tokens: 0, nanos: 0 }, inFlight: { tokens: inFlightTokens, nanos: 0, slots: 0 }, want: ASK_ALL, ttlMs: 300 });
    const first = await ask();
    // 10% of each limit at most, and at most a quarter of what is free.
    expect(first.ok && first.hold).toEqual({ requests: 10, tokens: 1000, nanos: null, slots: null });
    const second = await ask();
    // The first lease holds 10% already: the bound leaves the second nothing.
    expect(second.ok && second.hold).toEqual({ requests: 0, tokens: 0, nanos: null, slots: null });
    const held = await quota(key);
    expect(held.rate_limits[0]?.requests?.current_usage).toBe(0);
    expect(held.rate_limits[0]?.tokens?.reserved).toBe(1000);
    expect(held.leases?.count).toBe(2);
    // Nobody renews them: after their TTL the alarm drops them and the allowance is whole again.
    await eventually(async () => Date.now(), () => false, 350);
    await runDurableObjectAlarm(stub);
    const after = await quota(key);
    expect(after.rate_limits[0]?.tokens?.reserved).toBe(0);
    expect(after.leases?.count).toBe(0);
    await runInDurableObject(stub, async (_instance, state) => expect((await state.storage.list({ prefix: "r:" })).size).toBe(0));
  });

  it("reports usage with its renewal, and what its isolate never reported is all the window can be overspent by", async () => {
    const key = await virtualKey("lease-overspend", { provider_configs: [{ provider: "vllm" }], lease_share: 0.2, rate_limit: { request_max_limit: 50, request_reset_duration: "1h" } });
    const stub = limiter("lease-overspend");
    const granted = await stub.lease({ leaseId: null, scope: null, used: { requests: 0, tokens: 0, nanos: 0 }, inFlight: { tokens: 0, nanos: 0, slots: 0 }, want: ASK_ALL, ttlMs: 200 });
    expect(granted.ok && granted.hold.requests).toBe(10);
    if (!granted.ok) return;
    // The isolate admitted 4 from the lease and reported them: counted, and the lease is topped up.
    const renewed = await stub.lease({ leaseId: granted.leaseId, scope: null, used: { requests: 4, tokens: 0, nanos: 0 }, inFlight: { tokens: 0, nanos: 0, slots: 0 }, want: ASK_ALL, ttlMs: 200 });
    expect(renewed.ok && renewed.leaseId).toBe(granted.leaseId);
    expect((await quota(key)).rate_limits[0]?.requests?.current_usage).toBe(4);
    // Then it admits up to its whole hold and dies without reporting: once the lease lapses the limiter lets the
    // window's remainder go to others — the unreported requests, at most the lease's 20% bound, are the overspend.
    const hold = renewed.ok ? (renewed.hold.requests ?? 0) : 0;
    expect(hold).toBeLessThanOrEqual(10);
    await eventually(async () => Date.now(), () => false, 250);
    const statuses: number[] = [];
    for (let i = 0; i < 50; i++) statuses.push((await chat(key)).status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(46);
    // 4 reported + up to `hold` never reported + 46: over the 50-request window by at most the lease, within 20%.
    expect(hold).toBe(9);
    expect(4 + hold + 46 - 50).toBeLessThanOrEqual(0.2 * 50);
  });
});

describe("lease settings", () => {
  it("refuse a share above 0.5 for a key", async () => {
    const response = await admin("PUT", "/api/governance/virtual-keys/lease-too-big", { lease_share: 0.6 });
    expect(response.status).toBe(400);
  });
});
