/**
 * This isolate's calls to one limiter, committed in groups. While a call to a limiter is in flight, the admissions,
 * settlements and renewals requests ask of it wait, and the next call carries all of them, which the object applies
 * in order, each in one synchronous step as before — so counters stay exact, and a busy key's object serves one call
 * per group of requests instead of one per request (a call's fixed costs — serialization on both sides, the object's storage
 * commit — are most of what it costs). The next call goes out when the one in flight ends, or HOLD_MS after it went
 * out if that is sooner: an isolate far from the object never waits a whole round trip for its turn, and one near
 * it keeps a single call in flight, so what waits at the object grows with busy isolates, not requests.
 *
 * No request awaits a promise another request made. A call belongs to the request that sent it (its waitUntil keeps
 * it running past its response); when it ends, it wakes each waiting request through that request's own promise, and
 * the first to run sends what is queued. A waiting request keeps a timer of its own — without pending I/O of its own
 * the runtime would take it for hung — which fires when the hold runs out (it then sends the queue itself) and, if
 * its operation went in another's call that has not answered, at the wait limit: a 503. A call in flight past the
 * wait limit (its request's context died with it) holds nothing up.
 *
 * Waking another request relies on the runtime running its continuation in its own context, as Workers do unless
 * the `no_handle_cross_request_promise_resolution` compatibility flag is set. GROUP_LIMITER_CALLS=false makes every
 * operation its own call (the worker tests run so: their pool sets that flag).
 */
import type { Env } from "../env";
import { GatewayError } from "../http/errors";
import type { AdmitDecision, AdmitRequest, LimiterOp, LimiterOpResult, SettleRequest } from "./limits";
import { settingsOf } from "../settings";
import { limiterNamed } from "./limiter-named";

type WaitUntil = (promise: Promise<unknown>) => void;
/** Sends one group of operations to the limiter; resolves with one result per operation. */
export type LimiterCall = (ops: LimiterOp[]) => Promise<LimiterOpResult[]>;

/** While a call is in flight, the next goes out once this long has passed since it did (or when it ends, if sooner). */
export const HOLD_MS = 10;
/** How long a request waits for an answer to a call another request sent before it gives up (503). */
export const WAIT_LIMIT_MS = 10_000;

/** Starts a timer; returns what cancels it (injected, so a simulation can run on its own clock). */
export type StartTimer = (ms: number, fire: () => void) => () => void;

const realTimer: StartTimer = (ms, fire) => {
  const timer = setTimeout(fire, ms);
  return () => clearTimeout(timer);
};

interface Queued {
  op: LimiterOp;
  sent: boolean;
  resolve(result: LimiterOpResult): void;
  reject(error: unknown): void;
}

const NO_RESULT: LimiterOpResult = { error: "the limiter returned no result for this operation" };

/** The result for the operation at `index` of a group (an answer cut short holds none for it). */
const resultAt = (results: readonly LimiterOpResult[], index: number): LimiterOpResult => (index < results.length ? (results[index] as LimiterOpResult) : NO_RESULT);

export class LimiterLine {
  private queue: Queued[] = [];
  /** When each call in flight went out (ms, the line's clock), by the call's number. */
  private readonly inFlight = new Map<number, number>();
  private callsSent = 0;
  private lastSentAt = Number.NEGATIVE_INFINITY;
  /** Wakes the requests waiting for a call to end: each its own resolver. */
  private readonly waiting = new Set<() => void>();

  constructor(
    private readonly holdMs = HOLD_MS,
    private readonly waitLimitMs = WAIT_LIMIT_MS,
    private readonly now: () => number = Date.now,
    private readonly startTimer: StartTimer = realTimer,
  ) {}

  /** Queues `op`; whichever request sends the queue sends it with its own `call` and `waitUntil`. */
  submit(op: LimiterOp, call: LimiterCall, waitUntil: WaitUntil): Promise<LimiterOpResult> {
    let entry!: Queued;
    const result = new Promise<LimiterOpResult>((resolve, reject) => {
      entry = { op, sent: false, resolve, reject };
    });
    this.queue.push(entry);
    if (this.maySend()) {
      this.send(call, waitUntil);
      return result;
    }
    return this.waitFor(entry, result, call, waitUntil);
  }

  /**
   * A call may go out when none is in flight — or the last went out at least holdMs ago: a far object is not waited
   * on for a whole round trip, and a call taken for lost (in flight past the wait limit: its request's context died
   * with it) holds nothing up.
   */
  private maySend(): boolean {
    const now = this.now();
    if (now - this.lastSentAt >= this.holdMs) return true;
    let waiting = false;
    for (const [call, sentAt] of this.inFlight) {
      if (now - sentAt < this.waitLimitMs) waiting = true;
      else this.inFlight.delete(call);
    }
    return !waiting;
  }

  private async waitFor(entry: Queued, result: Promise<LimiterOpResult>, call: LimiterCall, waitUntil: WaitUntil): Promise<LimiterOpResult> {
    const giveUpAt = this.now() + this.waitLimitMs;
    // One timer at a time: first when the hold since the last call runs out, then — only if this request's operation
    // went in another's call that has not answered by then — at the wait limit.
    let cancelTimer: () => void = () => undefined;
    let alarm!: Promise<"alarm">;
    const arm = (ms: number) => {
      alarm = new Promise((resolve) => {
        cancelTimer = this.startTimer(Math.max(0, ms), () => resolve("alarm"));
      });
    };
    arm(this.lastSentAt + this.holdMs - this.now());
    try {
      while (!entry.sent) {
        if (this.maySend()) {
          this.send(call, waitUntil);
          return await result;
        }
        let wake: () => void = () => undefined;
        const ended = new Promise<"ended">((resolve) => {
          wake = () => resolve("ended");
          this.waiting.add(wake);
        });
        if ((await Promise.race([ended, alarm])) === "alarm") {
          this.waiting.delete(wake);
          // The hold is over (any call sent since would have carried this operation): send the queue.
          if (!entry.sent) {
            this.send(call, waitUntil);
            return await result;
          }
          arm(giveUpAt - this.now());
        }
      }
      // Sent in another request's call: its answer, unless none comes within the wait limit.
      for (;;) {
        const outcome = await Promise.race([result, alarm]);
        if (outcome !== "alarm") return outcome;
        if (this.now() >= giveUpAt) throw new GatewayError(503, `the limiter did not answer within ${this.waitLimitMs / 1000} s`, "limiter_unavailable");
        arm(giveUpAt - this.now());
      }
    } finally {
      cancelTimer();
    }
  }

  private send(call: LimiterCall, waitUntil: WaitUntil): void {
    const batch = this.queue;
    this.queue = [];
    for (const entry of batch) entry.sent = true;
    // Calls are told apart by number: two may go out in the same millisecond.
    const sentAt = this.now();
    const callNumber = ++this.callsSent;
    this.inFlight.set(callNumber, sentAt);
    this.lastSentAt = sentAt;
    let answered: Promise<LimiterOpResult[]>;
    try {
      answered = call(batch.map((entry) => entry.op));
    } catch (error) {
      // Thrown before the call went out: every request in the group hears it, not only the one that sent it.
      answered = Promise.reject(error);
    }
    const ended = answered
      .then(
        (results) => batch.forEach((entry, index) => entry.resolve(resultAt(results, index))),
        (error: unknown) => batch.forEach((entry) => entry.reject(error)),
      )
      .then(() => {
        this.inFlight.delete(callNumber);
        const woken = [...this.waiting];
        this.waiting.clear();
        for (const wake of woken) wake();
      });
    waitUntil(ended);
  }
}

const lines = new Map<string, LimiterLine>();
const MAX_LINES = 10_000;

async function submit(env: Env, name: string, op: LimiterOp, waitUntil: WaitUntil): Promise<LimiterOpResult> {
  // A stub per call: one broken by the object's restart is never reused.
  const call: LimiterCall = (ops) => limiterNamed(env, name).apply(ops);
  if (!settingsOf(env).GROUP_LIMITER_CALLS) return resultAt(await call([op]), 0);
  let line = lines.get(name);
  if (!line) {
    if (lines.size >= MAX_LINES) lines.delete(lines.keys().next().value as string);
    line = new LimiterLine();
    lines.set(name, line);
  }
  return line.submit(op, call, waitUntil);
}

function decided(result: LimiterOpResult): AdmitDecision | null {
  if (result !== null && "error" in result) throw new GatewayError(503, `the limiter could not apply the request: ${result.error}`, "limiter_unavailable");
  return result;
}

/** Asks the limiter `name` to admit one request, in the same call as this isolate's other requests to it. */
export async function admitAt(env: Env, name: string, request: AdmitRequest, waitUntil: WaitUntil): Promise<AdmitDecision> {
  const decision = decided(await submit(env, name, { kind: "admit", request }, waitUntil));
  if (decision === null) throw new GatewayError(503, "the limiter returned no decision", "limiter_unavailable");
  return decision;
}

/** Applies settlements at the limiter `name`, in the same call as this isolate's other requests to it. */
export async function settleAt(env: Env, name: string, requests: SettleRequest[], waitUntil: WaitUntil): Promise<void> {
  decided(await submit(env, name, { kind: "settle", requests }, waitUntil));
}

/** Keeps running requests' reservations at the limiter `name` from lapsing, in a call shared like the others. */
export async function renewAt(env: Env, name: string, reservationIds: string[], ttlMs: number, waitUntil: WaitUntil): Promise<void> {
  decided(await submit(env, name, { kind: "renew", reservationIds, ttlMs }, waitUntil));
}
