/**
 * The isolate's line to one limiter, against a scripted call: what is asked while a call is in flight goes in the
 * next call, in order, each request gets its own result, a failed call fails only its own group, and a call that
 * never ends neither blocks the line nor leaves a request waiting for ever.
 */
import { describe, expect, it } from "vitest";
import { LimiterLine, type LimiterCall } from "../../src/governance/limiter-line";
import type { AdmitDecision, LimiterOp, LimiterOpResult } from "../../src/governance/limits";
import { GatewayError } from "../../src/http/errors";

const admitting = (id: string): LimiterOp => ({
  kind: "admit",
  request: { scope: null, promptTokens: 1, completionTokens: 1, choices: 1, flexible: false, minCompletionTokens: 1, fixedNanos: 0, nanosPerCompletionToken: 0, ttlMs: 60_000, token: { id, iat: 0, exp: 0 } },
});
const admitted = (reservationId: string): AdmitDecision => ({ ok: true, reservationId, completionTokens: 1 });
const idOf = (op: LimiterOp) => (op.kind === "admit" ? op.request.token?.id : "settle");

/** A limiter whose calls end only when the test says so; records each call's operations. */
function scripted() {
  const calls: { ops: LimiterOp[]; answer(results: LimiterOpResult[]): void; fail(error: Error): void }[] = [];
  let called: () => void = () => undefined;
  const call: LimiterCall = (ops) =>
    new Promise((answer, fail) => {
      calls.push({ ops, answer, fail });
      called();
    });
  /** Resolves once the limiter has been called `count` times in all. */
  const calledTimes = (count: number) =>
    new Promise<void>((resolve) => {
      const check = () => (calls.length >= count ? resolve() : (called = check));
      check();
    });
  return { call, calls, calledTimes };
}

const kept: Promise<unknown>[] = [];
const waitUntil = (promise: Promise<unknown>) => void kept.push(promise);

describe("a limiter line", () => {
  it("sends what is asked while a call is in flight in one next call, in order, and answers each request its own", async () => {
    const limiter = scripted();
    const line = new LimiterLine();
    const first = line.submit(admitting("a"), limiter.call, waitUntil);
    const rest = ["b", "c", "d"].map((id) => line.submit(admitting(id), limiter.call, waitUntil));
    await limiter.calledTimes(1);
    expect(limiter.calls.map((call) => call.ops.map(idOf))).toEqual([["a"]]);

    limiter.calls[0]?.answer([admitted("r-a")]);
    expect(await first).toEqual(admitted("r-a"));
    await limiter.calledTimes(2);
    expect(limiter.calls.map((call) => call.ops.map(idOf))).toEqual([["a"], ["b", "c", "d"]]);

    limiter.calls[1]?.answer([admitted("r-b"), admitted("r-c"), null]);
    expect(await Promise.all(rest)).toEqual([admitted("r-b"), admitted("r-c"), null]);
    // The line is free again: the next request is sent at once, alone.
    void line.submit(admitting("e"), limiter.call, waitUntil);
    await limiter.calledTimes(3);
    expect(limiter.calls[2]?.ops.map(idOf)).toEqual(["e"]);
  });

  it("answers an operation the limiter returned no result for with an error result, not another's", async () => {
    const limiter = scripted();
    const line = new LimiterLine();
    void line.submit(admitting("a"), limiter.call, waitUntil);
    const waiting = [line.submit(admitting("b"), limiter.call, waitUntil), line.submit(admitting("c"), limiter.call, waitUntil)];
    await limiter.calledTimes(1);
    limiter.calls[0]?.answer([admitted("r-a")]);
    await limiter.calledTimes(2);
    limiter.calls[1]?.answer([admitted("r-b")]);
    const [b, c] = await Promise.all(waiting);
    expect(b).toEqual(admitted("r-b"));
    expect(c).toEqual({ error: "the limiter returned no result for this operation" });
  });

  it("fails only the group whose call failed, and sends the next group", async () => {
    const limiter = scripted();
    const line = new LimiterLine();
    const first = line.submit(admitting("a"), limiter.call, waitUntil);
    const second = line.submit(admitting("b"), limiter.call, waitUntil);
    await limiter.calledTimes(1);
    limiter.calls[0]?.fail(new Error("object restarted"));
    await expect(first).rejects.toThrow("object restarted");
    await limiter.calledTimes(2);
    expect(limiter.calls[1]?.ops.map(idOf)).toEqual(["b"]);
    limiter.calls[1]?.answer([admitted("r-b")]);
    expect(await second).toEqual(admitted("r-b"));
  });

  it("takes a call that never ends for lost: a waiting request sends the queue itself, one already sent gets a 503", async () => {
    const limiter = scripted();
    let clock = 0;
    const line = new LimiterLine(20, () => clock);
    // The first call never answers (its request's context died with it).
    void line.submit(admitting("a"), limiter.call, waitUntil);
    const b = line.submit(admitting("b"), limiter.call, waitUntil);
    const c = line.submit(admitting("c"), limiter.call, waitUntil);
    await limiter.calledTimes(1);
    // b's own timer fires first: it sends b and c, and waits for its own call like any sender.
    await limiter.calledTimes(2);
    expect(limiter.calls[1]?.ops.map(idOf)).toEqual(["b", "c"]);
    // c's timer fires with its operation sent in a call that has not answered: it gives up.
    const refused = await c.catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(GatewayError);
    expect((refused as GatewayError).status).toBe(503);
    expect((refused as GatewayError).code).toBe("limiter_unavailable");

    // A request that arrives once the call in flight is older than the limit sends at once.
    clock = 20;
    const e = line.submit(admitting("e"), limiter.call, waitUntil);
    await limiter.calledTimes(3);
    expect(limiter.calls[2]?.ops.map(idOf)).toEqual(["e"]);

    // Older calls answering late free nothing while the newest is in flight.
    limiter.calls[0]?.answer([admitted("r-a")]);
    limiter.calls[1]?.answer([admitted("r-b"), admitted("r-c")]);
    expect(await b).toEqual(admitted("r-b"));
    const f = line.submit(admitting("f"), limiter.call, waitUntil);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(limiter.calls).toHaveLength(3);
    limiter.calls[2]?.answer([admitted("r-e")]);
    expect(await e).toEqual(admitted("r-e"));
    await limiter.calledTimes(4);
    expect(limiter.calls[3]?.ops.map(idOf)).toEqual(["f"]);
    limiter.calls[3]?.answer([admitted("r-f")]);
    expect(await f).toEqual(admitted("r-f"));
  });
});
