/**
 * This isolate's calls to one limiter, committed in groups. At most one call per limiter is in flight; admissions
 * and settlements asked for meanwhile wait, and the next call carries all of them, which the object applies in
 * order, each in one synchronous step as before — so counters stay exact, and a hot key's object serves one call per
 * group of requests instead of one per request (a call's fixed costs — serialization on both sides, the object's
 * storage commit — are most of what it costs).
 *
 * No request awaits a promise another request made. The call in flight belongs to the request that sent it (its
 * waitUntil keeps it running past its response); when it ends, it wakes each waiting request through that request's
 * own promise, and the first to run sends what is queued. A waiting request keeps a timer of its own — without
 * pending I/O of its own the runtime would take it for hung — which also bounds the wait: a request whose operation
 * is still queued when it fires sends the queue itself (the call it waited for is taken for lost); one whose
 * operation went in a call that never answered fails with a 503.
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

/** How long a request waits on a call another request sent before it takes the line over (or, if sent, gives up). */
export const WAIT_LIMIT_MS = 10_000;

interface Queued {
  op: LimiterOp;
  sent: boolean;
  resolve(result: LimiterOpResult): void;
  reject(error: unknown): void;
}

const NO_RESULT: LimiterOpResult = { error: "the limiter returned no result for this operation" };

export class LimiterLine {
  private queue: Queued[] = [];
  /** A call is in flight, sent at `sentAt` (ms, the line's clock). */
  private busy = false;
  private sentAt = 0;
  /** Wakes the requests waiting for the line to be free: each its own resolver. */
  private waiting = new Set<() => void>();

  constructor(
    private readonly waitLimitMs = WAIT_LIMIT_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Queues `op`; whichever request sends the queue sends it with its own `call` and `waitUntil`. */
  submit(op: LimiterOp, call: LimiterCall, waitUntil: WaitUntil): Promise<LimiterOpResult> {
    let entry!: Queued;
    const result = new Promise<LimiterOpResult>((resolve, reject) => {
      entry = { op, sent: false, resolve, reject };
    });
    this.queue.push(entry);
    if (!this.busy) {
      this.send(call, waitUntil);
      return result;
    }
    return this.waitFor(entry, result, call, waitUntil);
  }

  private async waitFor(entry: Queued, result: Promise<LimiterOpResult>, call: LimiterCall, waitUntil: WaitUntil): Promise<LimiterOpResult> {
    let timer: ReturnType<typeof setTimeout> | null = null;
    let wake: (() => void) | null = null;
    const expired = new Promise<"expired">((resolve) => {
      timer = setTimeout(() => resolve("expired"), this.waitLimitMs);
    });
    try {
      while (!entry.sent) {
        // The line is free — or its call is taken for lost, not having ended within the limit (its request's context
        // died with it): this request sends the queue, and waits for its own call as any sender does.
        if (!this.busy || this.now() - this.sentAt >= this.waitLimitMs) {
          this.send(call, waitUntil);
          return await result;
        }
        const free = new Promise<void>((resolve) => {
          wake = resolve;
          this.waiting.add(resolve);
        });
        if ((await Promise.race([free, expired])) === "expired") {
          if (wake) this.waiting.delete(wake);
          if (entry.sent) break;
          this.send(call, waitUntil);
          return await result;
        }
      }
      const outcome = await Promise.race([result, expired]);
      if (outcome === "expired") throw new GatewayError(503, `the limiter did not answer within ${this.waitLimitMs / 1000} s`, "limiter_unavailable");
      return outcome;
    } finally {
      if (timer !== null) clearTimeout(timer);
    }
  }

  private send(call: LimiterCall, waitUntil: WaitUntil): void {
    const batch = this.queue;
    this.queue = [];
    for (const entry of batch) entry.sent = true;
    this.busy = true;
    const sentAt = this.now();
    this.sentAt = sentAt;
    const ended = call(batch.map((entry) => entry.op))
      .then(
        (results) => batch.forEach((entry, index) => entry.resolve(index < results.length ? (results[index] as LimiterOpResult) : NO_RESULT)),
        (error: unknown) => batch.forEach((entry) => entry.reject(error)),
      )
      .then(() => {
        // A call taken for lost may end after a newer one was sent: only the latest frees the line.
        if (this.sentAt !== sentAt) return;
        this.busy = false;
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
  if (!settingsOf(env).GROUP_LIMITER_CALLS) {
    const results = await call([op]);
    return results.length > 0 ? (results[0] as LimiterOpResult) : NO_RESULT;
  }
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
