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

/** A clock and timers the test moves by hand. */
function manualTime() {
  let now = 0;
  const timers = new Set<{ at: number; fire: () => void }>();
  return {
    now: () => now,
    startTimer: (ms: number, fire: () => void) => {
      const timer = { at: now + ms, fire };
      timers.add(timer);
      return () => void timers.delete(timer);
    },
    /** Moves the clock on, firing the timers due, in the order they were started. */
    advance(ms: number) {
      now += ms;
      for (const timer of [...timers]) {
        if (timer.at > now) continue;
        timers.delete(timer);
        timer.fire();
      }
    },
  };
}

/** A line holding 10 ms and giving up after 10 s, on a hand-moved clock. */
function lineOnManualTime() {
  const time = manualTime();
  return { time, line: new LimiterLine(10, 10_000, time.now, time.startTimer) };
}

describe("a limiter line", () => {
  it("tells apart calls that go out in the same millisecond, at today's clock", async () => {
    const limiter = scripted();
    // No hold: every operation goes out at once, so both calls leave at the same instant, a 13-digit millisecond.
    const line = new LimiterLine(0, 10_000, () => 1_764_590_400_000, () => () => undefined);
    const first = line.submit(admitting("a"), limiter.call, waitUntil);
    const second = line.submit(admitting("b"), limiter.call, waitUntil);
    await limiter.calledTimes(2);
    expect(limiter.calls.map((call) => call.ops.map(idOf))).toEqual([["a"], ["b"]]);
    limiter.calls[1]?.answer([admitted("rb")]);
    limiter.calls[0]?.answer([admitted("ra")]);
    expect(await first).toEqual(admitted("ra"));
    expect(await second).toEqual(admitted("rb"));
  });

  it("sends what is asked while a call is in flight in one next call, in order, and answers each request its own", async () => {
    const limiter = scripted();
    const { line } = lineOnManualTime();
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
    // No call in flight: the next request is sent at once, alone.
    void line.submit(admitting("e"), limiter.call, waitUntil);
    await limiter.calledTimes(3);
    expect(limiter.calls[2]?.ops.map(idOf)).toEqual(["e"]);
  });

  it("answers an operation the limiter returned no result for with an error result, not another's", async () => {
    const limiter = scripted();
    const { line } = lineOnManualTime();
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
    const { line } = lineOnManualTime();
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

  it("fails every request of a group whose call could not even be made, and keeps the line usable", async () => {
    const limiter = scripted();
    const { line } = lineOnManualTime();
    const broken: LimiterCall = () => {
      throw new Error("no such binding");
    };
    const first = line.submit(admitting("a"), limiter.call, waitUntil);
    // Whichever of b, c and d wakes first sends all three, with a call that throws before it goes out.
    const rest = ["b", "c", "d"].map((id) => line.submit(admitting(id), broken, waitUntil));
    await limiter.calledTimes(1);
    limiter.calls[0]?.answer([admitted("r-a")]);
    expect(await first).toEqual(admitted("r-a"));
    const outcomes = await Promise.allSettled(rest);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(String((outcomes[2] as PromiseRejectedResult).reason)).toContain("no such binding");
    void line.submit(admitting("e"), limiter.call, waitUntil);
    await limiter.calledTimes(2);
    expect(limiter.calls[1]?.ops.map(idOf)).toEqual(["e"]);
  });

  it("waits for a far object's call no longer than the hold: the next group goes out 10 ms after the last", async () => {
    const limiter = scripted();
    const { time, line } = lineOnManualTime();
    const a = line.submit(admitting("a"), limiter.call, waitUntil);
    const b = line.submit(admitting("b"), limiter.call, waitUntil);
    const c = line.submit(admitting("c"), limiter.call, waitUntil);
    await limiter.calledTimes(1);
    time.advance(9);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(limiter.calls).toHaveLength(1);
    time.advance(1);
    await limiter.calledTimes(2);
    expect(limiter.calls[1]?.ops.map(idOf)).toEqual(["b", "c"]);
    // A request arriving just after waits for the next hold, though two calls are in flight.
    const d = line.submit(admitting("d"), limiter.call, waitUntil);
    time.advance(10);
    await limiter.calledTimes(3);
    expect(limiter.calls[2]?.ops.map(idOf)).toEqual(["d"]);
    // One arriving once the hold since the last call is over goes out at once, calls in flight or not.
    time.advance(15);
    void line.submit(admitting("e"), limiter.call, waitUntil);
    await limiter.calledTimes(4);
    expect(limiter.calls[3]?.ops.map(idOf)).toEqual(["e"]);
    // The answers arrive in any order; each request gets its own.
    limiter.calls[2]?.answer([admitted("r-d")]);
    limiter.calls[0]?.answer([admitted("r-a")]);
    limiter.calls[1]?.answer([admitted("r-b"), admitted("r-c")]);
    expect(await Promise.all([a, b, c, d])).toEqual([admitted("r-a"), admitted("r-b"), admitted("r-c"), admitted("r-d")]);
  });

  it("gives a request whose operation went in a call that never answers a 503 at the wait limit", async () => {
    const limiter = scripted();
    const { time, line } = lineOnManualTime();
    void line.submit(admitting("a"), limiter.call, waitUntil);
    void line.submit(admitting("b"), limiter.call, waitUntil);
    const c = line.submit(admitting("c"), limiter.call, waitUntil);
    const refusal = c.catch((error: unknown) => error);
    await limiter.calledTimes(1);
    // b's hold runs out first: it sends b and c; neither call ever answers (their requests' contexts died).
    time.advance(10);
    await limiter.calledTimes(2);
    expect(limiter.calls[1]?.ops.map(idOf)).toEqual(["b", "c"]);
    await new Promise((resolve) => setTimeout(resolve, 0));
    time.advance(9_989);
    await new Promise((resolve) => setTimeout(resolve, 0));
    time.advance(1);
    const refused = await refusal;
    expect(refused).toBeInstanceOf(GatewayError);
    expect((refused as GatewayError).status).toBe(503);
    expect((refused as GatewayError).code).toBe("limiter_unavailable");
    // Lost calls hold up nobody: a new request goes out at once.
    void line.submit(admitting("e"), limiter.call, waitUntil);
    await limiter.calledTimes(3);
    expect(limiter.calls[2]?.ops.map(idOf)).toEqual(["e"]);
  });
});
