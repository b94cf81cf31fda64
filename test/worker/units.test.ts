/** The pure pieces: SSE relay framing, model matching, weighted order, origin error shapes. */
import { describe, expect, it } from "vitest";
import type { ProviderRecord } from "../../src/config/schema";
import { weightedOrder } from "../../src/routing/resolve";
import { compileProvider, servedModelName } from "../../src/routing/table";
import { originError } from "../../src/upstream/errors";
import { SseRelay, type RelaySummary } from "../../src/upstream/sse-relay";

function streamOf(parts: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    pull(controller) {
      const next = parts.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(encoder.encode(next));
    },
  });
}

async function relay(parts: string[], options: { served?: string; public?: string; dropUsage?: boolean } = {}) {
  let summary: RelaySummary | undefined;
  const r = new SseRelay(streamOf(parts), {
    servedModel: options.served ?? "m",
    publicModel: options.public ?? "m",
    dropUsageOnlyChunk: options.dropUsage ?? false,
    idleTimeoutMs: 1000,
    keepAliveMs: 60_000,
    abortUpstream: () => undefined,
    onEnd: (s) => (summary = s),
  });
  const firstError = await r.open();
  const text = await new Response(r.stream).text();
  return { text, firstError, summary };
}

describe("SseRelay", () => {
  it("reassembles events split across chunks and CRLF line endings", async () => {
    const { text, summary } = await relay(['data: {"model":"m","choi', 'ces":[1]}\r\n\r\n: keep-alive\r\n\r\ndata: [DO', "NE]\r\n\r\n"]);
    expect(text).toBe('data: {"model":"m","choices":[1]}\n\n: keep-alive\n\ndata: [DONE]\n\n');
    expect(summary?.outcome).toBe("completed");
  });

  it("rewrites the model, drops the injected usage chunk and records usage", async () => {
    const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };
    const { text, summary } = await relay(
      ['data: {"model":"served","choices":[{"delta":{"content":"\\"model\\":\\"served\\""}}]}\n\n', `data: {"model":"served","choices":[],"usage":${JSON.stringify(usage)}}\n\n`, "data: [DONE]\n\n"],
      { served: "served", public: "vllm/alias", dropUsage: true },
    );
    expect(text).toBe('data: {"model":"vllm/alias","choices":[{"delta":{"content":"\\"model\\":\\"served\\""}}]}\n\ndata: [DONE]\n\n');
    expect(summary?.usage).toEqual(usage);
  });

  it("reports an opening error frame and marks a stream without [DONE] as truncated", async () => {
    const opening = await relay(['data: {"error":{"message":"bad","code":400}}\n\n', "data: [DONE]\n\n"]);
    expect(opening.firstError?.message).toBe("bad");
    const truncated = await relay(['data: {"choices":[1]}\n\n']);
    expect(truncated.summary?.outcome).toBe("truncated");
    expect(truncated.text).toContain('"code":"stream_truncated"');
  });
});

describe("model matching", () => {
  const record = (key: Record<string, unknown>): ProviderRecord => ({ name: "vllm", settings: {}, keys: [{ id: "k", name: "k", value: "", weight: 1, enabled: true, ...key }] });
  const key = (extra: Record<string, unknown>) => compileProvider(record({ vllm_key_config: { url: "http://o" }, ...extra })).keys[0]!;

  it("serves every name when models is absent or *, and only listed names otherwise", () => {
    expect(servedModelName(key({}), "anything")).toBe("anything");
    expect(servedModelName(key({ models: ["*"] }), "anything")).toBe("anything");
    expect(servedModelName(key({ models: ["a"] }), "b")).toBeNull();
    expect(servedModelName(key({ models: [] }), "a")).toBeNull();
    expect(servedModelName(key({ models: ["*"], blacklisted_models: ["a"] }), "a")).toBeNull();
    expect(servedModelName(key({ enabled: false }), "a")).toBeNull();
  });

  it("sends model_name upstream for the names a pinned key accepts; aliases match case-insensitively", () => {
    const pinned = key({ models: ["llama-3-70b"], vllm_key_config: { url: "http://o", model_name: "meta/Llama-3-70B" }, aliases: { Big: "meta/Llama-3-70B-fp8" } });
    expect(servedModelName(pinned, "llama-3-70b")).toBe("meta/Llama-3-70B");
    expect(servedModelName(pinned, "meta/Llama-3-70B")).toBe("meta/Llama-3-70B");
    expect(servedModelName(pinned, "big")).toBe("meta/Llama-3-70B-fp8");
    expect(servedModelName(pinned, "other")).toBeNull();
  });
});

describe("weightedOrder", () => {
  it("picks in proportion to weight and puts zero weights last", () => {
    const items = [{ key: { weight: 3 }, id: "a" }, { key: { weight: 1 }, id: "b" }, { key: { weight: 0 }, id: "z" }];
    const firsts: Record<string, number> = { a: 0, b: 0, z: 0 };
    for (let i = 0; i < 4000; i += 1) {
      const order = weightedOrder(items);
      firsts[order[0]!.id]! += 1;
      expect(order[2]!.id).toBe("z");
    }
    expect(firsts.a! / 4000).toBeGreaterThan(0.7);
    expect(firsts.a! / 4000).toBeLessThan(0.8);
    expect(firsts.z).toBe(0);
  });
});

describe("originError", () => {
  const where = { provider: "vllm", key: "k" };
  it("reads every vLLM error shape", () => {
    expect(originError(404, '{"detail":"Not Found"}', where)).toMatchObject({ status: 404, code: "upstream_route_not_found" });
    expect(originError(401, '{"error":"Unauthorized"}', where)).toMatchObject({ status: 502, code: "upstream_auth_failed" });
    expect(originError(503, '{"error":"The model is currently scaling. Please try again later."}', where)).toMatchObject({ status: 503, message: "The model is currently scaling. Please try again later." });
    expect(originError(400, '{"object":"error","message":"m","type":"BadRequestError","param":"p","code":400}', where)).toMatchObject({ status: 400, message: "m", param: "p" });
    expect(originError(400, '{"detail":[{"loc":["body","messages"],"msg":"field required"}]}', where).message).toBe("body.messages: field required");
    expect(originError(502, "<!DOCTYPE html><html></html>", where).message).toContain("HTML page");
    expect(originError(524, "", where)).toMatchObject({ status: 504 });
    expect(originError(200, '{"error":{"message":"x","code":"weird"}}', where)).toMatchObject({ status: 502, code: "weird" });
  });
});

describe("durations and windows", () => {
  it("parses Bifrost's duration syntax, where m is minutes and M is months", async () => {
    const { parseDuration } = await import("../../src/governance/duration");
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("5m")).toBe(300_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("0.5d")).toBe(43_200_000);
    expect(parseDuration("1w")).toBe(604_800_000);
    expect(parseDuration("1M")).toBe(30 * 86_400_000);
    expect(parseDuration("1Y")).toBe(365 * 86_400_000);
    for (const bad of ["", "0s", "1 day", "-1h", "1x", "m"]) expect(parseDuration(bad)).toBeUndefined();
    // At most a thousand years: a longer window's reset would lie past the last date a Date holds.
    expect(parseDuration("1000Y")).toBe(1000 * 365 * 86_400_000);
    for (const tooLong of ["1001Y", "300000Y", "99999999999999999Y", "12200M", "999999999999999s", "9999999999999w"]) expect(parseDuration(tooLong)).toBeUndefined();
  });

  it("rolls windows over after their duration and aligns calendar windows to UTC", async () => {
    const { currentWindowStart, windowEnd, windowSpec } = await import("../../src/governance/duration");
    const rolling = windowSpec("1h", false);
    expect(currentWindowStart(rolling, 1_000, 1_000 + 3_599_999)).toBe(1_000);
    expect(currentWindowStart(rolling, 1_000, 1_000 + 3_600_000)).toBe(1_000 + 3_600_000);
    const now = Date.UTC(2026, 10, 21, 14, 30); // Saturday 21 November 2026
    expect(new Date(currentWindowStart(windowSpec("1d", true), 0, now)).toISOString()).toBe("2026-11-21T00:00:00.000Z");
    expect(new Date(currentWindowStart(windowSpec("1w", true), 0, now)).toISOString()).toBe("2026-11-16T00:00:00.000Z");
    const month = windowSpec("1M", true);
    expect(new Date(windowEnd(month, currentWindowStart(month, 0, now))).toISOString()).toBe("2026-12-01T00:00:00.000Z");
    expect(new Date(currentWindowStart(windowSpec("1Y", true), 0, now)).toISOString()).toBe("2026-01-01T00:00:00.000Z");
  });
});

describe("origin error messages", () => {
  it("are cut to 2,000 characters, however much of the request the origin quotes back", () => {
    const where = { provider: "vllm", key: "k" };
    const quoted = "x".repeat(3_000_000);
    for (const body of [{ error: { message: quoted, code: 400 } }, { object: "error", message: quoted }, { detail: quoted }, { error: quoted }]) {
      expect(originError(400, JSON.stringify(body), where).message.length).toBe(2_001);
    }
  });
});
