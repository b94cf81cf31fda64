/**
 * The isolate's side of a lease: a slice of one limiter's allowance held in memory, from which requests are admitted
 * with no round trip. Each admission takes its worst case from what the lease holds; each settlement gives back what
 * it did not use and keeps its usage until the next renewal reports it. Renewals run off the request path (waitUntil):
 * when the lease runs low or nears expiry, and shortly after usage settles, so the limiter's counters trail the truth
 * by about FLUSH_DELAY_MS. Only resolved values are kept here — never a promise another request could be handed.
 */
import type { AdmitRequest, LeaseAmounts, LeaseReply, LeaseRequest, LeaseWant } from "./limits";

/** Worst case of one request, as the limiter would reserve it: its admission request, less where and for how long. */
export type Demand = Omit<AdmitRequest, "scope" | "ttlMs" | "token">;

/** What one admission took from the lease. */
export interface LeasedShare {
  tokens: number;
  nanos: number;
  completionTokens: number;
}

/** How a holder reaches its limiter, and waits (injected, so a simulation can run on its own clock). */
export interface LeaseTransport {
  lease(request: LeaseRequest): Promise<LeaseReply>;
  wait(ms: number): Promise<void>;
}

/** How long after usage settles it is reported (and the lease topped up): batches reports under load. */
export const FLUSH_DELAY_MS = 200;
/** A renewal that has not answered after this long is taken for lost (its request's context may have been cancelled). */
const RENEWAL_LOST_MS = 5_000;
/** A holder that admitted nothing for this long after a flush hands its lease's headroom back. */
const IDLE_HAND_BACK_MS = 2_000;
/** A lease the limiter has not confirmed for this long admits nothing until it does (see freshMs). */
const LEASE_FRESH_MS = 1_000;
/** A failed renewal that carried usage is tried again this many times, after this long and then twice as long. */
const RENEWAL_RETRIES = 2;
const RENEWAL_RETRY_MS = 1_000;
/** After the limiter said it lets no lease out, ask again only after this long. */
const STRICT_RETRY_MS = 10_000;
/** A lease asks for this long's worth of the traffic its isolate sees, and room for at least this many requests. */
const WANT_HORIZON_MS = 2_000;
const WANT_FLOOR = 4;
/** ... and at least this many of its round trips' worth, so traffic that grows meanwhile does not run it dry. */
const WANT_ROUND_TRIPS = 8;
/** Traffic is measured over windows of this length; the busier of the last two sets the rate. */
const RATE_WINDOW_MS = 1_000;

interface Traffic {
  requests: number;
  tokens: number;
  nanos: number;
}

const available = (held: number | null, taken: number): number => (held === null ? Number.POSITIVE_INFINITY : held - taken);

export class LeaseHolder {
  private leaseId: string | null = null;
  private hold: LeaseAmounts | null = null;
  private expiresAt = 0;
  private readonly inFlight = { tokens: 0, nanos: 0, slots: 0 };
  private readonly unreported = { requests: 0, tokens: 0, nanos: 0 };
  private renewingSince: number | null = null;
  private flushDueAt: number | null = null;
  private strictUntil = 0;
  /** What requests asked of this holder (leased or not) per millisecond: this window, the last one; the largest ask. */
  private asked: Traffic = { requests: 0, tokens: 0, nanos: 0 };
  private askedSince = 0;
  private lastRate: Traffic = { requests: 0, tokens: 0, nanos: 0 };
  private readonly largest = { tokens: 0, nanos: 0 };
  private peakSlots = 0;
  /** How long the last renewal took: a lease far from its limiter must last longer between renewals. */
  private roundTripMs = 0;
  /** When the limiter last confirmed the lease. */
  private renewedAt = 0;
  /** Requests admitted from leases so far: an idle holder is one where this stopped moving. */
  private admissions = 0;
  /** Headroom the last renewal granted beyond the requests then running: the lease is low once half of it is used. */
  private granted: LeaseAmounts | null = null;

  constructor(
    readonly scope: string | null,
    private readonly ttlMs: number,
  ) {}

  /** Takes the request's worst case from the lease, or answers null: no lease, not enough left, or about to expire. */
  tryAdmit(demand: Demand, now: number): LeasedShare | null {
    this.noteDemand(demand, now);
    const hold = this.hold;
    if (!hold || this.expiresAt - now < this.ttlMs / 3 || now - this.renewedAt > this.freshMs()) return null;
    if (available(hold.requests, this.unreported.requests) < 1 || available(hold.slots, this.inFlight.slots) < 1) return null;
    const choices = Math.max(1, demand.choices);
    const tokensLeft = available(hold.tokens, this.inFlight.tokens + this.unreported.tokens) - demand.promptTokens;
    const nanosLeft = available(hold.nanos, this.inFlight.nanos + this.unreported.nanos) - demand.fixedNanos;
    if (tokensLeft < 0 || nanosLeft < 0) return null;
    const byTokens = Math.floor(tokensLeft / choices);
    const byNanos = demand.nanosPerCompletionToken > 0 ? Math.floor(nanosLeft / (demand.nanosPerCompletionToken * choices)) : Number.POSITIVE_INFINITY;
    const fits = Math.min(demand.completionTokens, byTokens, byNanos);
    if (fits < (demand.flexible ? demand.minCompletionTokens : demand.completionTokens)) return null;
    const completionTokens = Math.min(fits, demand.completionTokens);
    const share = {
      tokens: demand.promptTokens + completionTokens * choices,
      nanos: Math.ceil(demand.fixedNanos + demand.nanosPerCompletionToken * completionTokens * choices),
      completionTokens,
    };
    this.inFlight.tokens += share.tokens;
    this.inFlight.nanos += share.nanos;
    this.inFlight.slots += 1;
    this.peakSlots = Math.max(this.peakSlots, this.inFlight.slots);
    this.unreported.requests += 1;
    this.admissions += 1;
    return share;
  }

  private noteDemand(demand: Demand, now: number): void {
    if (now - this.askedSince >= RATE_WINDOW_MS) {
      const elapsed = Math.max(1, now - this.askedSince);
      this.lastRate = { requests: this.asked.requests / elapsed, tokens: this.asked.tokens / elapsed, nanos: this.asked.nanos / elapsed };
      this.asked = { requests: 0, tokens: 0, nanos: 0 };
      this.askedSince = now;
    }
    const choices = Math.max(1, demand.choices);
    const tokens = demand.promptTokens + demand.completionTokens * choices;
    const nanos = Math.ceil(demand.fixedNanos + demand.nanosPerCompletionToken * demand.completionTokens * choices);
    this.asked.requests += 1;
    this.asked.tokens += tokens;
    this.asked.nanos += nanos;
    this.largest.tokens = Math.max(this.largest.tokens, tokens);
    this.largest.nanos = Math.max(this.largest.nanos, nanos);
  }

  /**
   * Headroom to ask for: a couple of seconds of the traffic this isolate sees, and room for a few of its largest
   * requests — so a lease grows with its isolate's traffic instead of one isolate taking the whole share.
   */
  private want(now: number): LeaseWant {
    const elapsed = Math.max(FLUSH_DELAY_MS, now - this.askedSince);
    const rate = (unit: keyof Traffic) => Math.max(this.lastRate[unit], this.asked[unit] / elapsed);
    const horizon = Math.max(WANT_HORIZON_MS, WANT_ROUND_TRIPS * this.roundTripMs);
    const want = {
      requests: Math.max(WANT_FLOOR, Math.ceil(rate("requests") * horizon)),
      tokens: Math.max(WANT_FLOOR * this.largest.tokens, Math.ceil(rate("tokens") * horizon)),
      nanos: Math.max(WANT_FLOOR * this.largest.nanos, Math.ceil(rate("nanos") * horizon)),
      slots: Math.max(WANT_FLOOR, 2 * this.peakSlots),
    };
    this.peakSlots = this.inFlight.slots;
    return want;
  }

  /** Swaps an admission's worst case for what it used; the usage waits for the next renewal. */
  settle(share: LeasedShare, used: { tokens: number; nanos: number }): void {
    this.inFlight.tokens -= share.tokens;
    this.inFlight.nanos -= share.nanos;
    this.inFlight.slots -= 1;
    this.unreported.tokens += used.tokens;
    this.unreported.nanos += used.nanos;
  }

  /** Gives an admission back whole: another level refused the request, so it was never made. */
  withdraw(share: LeasedShare): void {
    this.settle(share, { tokens: 0, nanos: 0 });
    this.unreported.requests -= 1;
  }

  /**
   * How long a lease is used without the limiter confirming it: a key deactivated, deleted or given new limits stops
   * being admitted from leases within about this long — a second, or a few round trips for a far limiter.
   */
  private freshMs(): number {
    return Math.max(LEASE_FRESH_MS, 3 * this.roundTripMs);
  }

  /** Whether a renewal is due now: no lease yet, running low, nearing expiry, or usage waiting past the flush delay. */
  renewalDue(now: number): boolean {
    if (this.renewingSince !== null && now - this.renewingSince < RENEWAL_LOST_MS) return false;
    if (now < this.strictUntil) return this.flushDueAt !== null && now >= this.flushDueAt;
    if (!this.hold || this.expiresAt - now < this.ttlMs / 2 || now - this.renewedAt > this.freshMs() / 2) return true;
    if (this.flushDueAt !== null && now >= this.flushDueAt) return true;
    const hold = this.hold;
    const granted = this.granted ?? hold;
    const low = (held: number | null, given: number | null, taken: number) => held !== null && given !== null && (held - taken) * 2 < given;
    return (
      low(hold.requests, granted.requests, this.unreported.requests) ||
      low(hold.tokens, granted.tokens, this.inFlight.tokens + this.unreported.tokens) ||
      low(hold.nanos, granted.nanos, this.inFlight.nanos + this.unreported.nanos) ||
      low(hold.slots, granted.slots, this.inFlight.slots)
    );
  }

  /** Marks usage as waiting to be reported; answers the delay after which a flush should run (null: one is already due). */
  scheduleFlush(now: number): number | null {
    if (this.flushDueAt !== null && now - this.flushDueAt < RENEWAL_LOST_MS) return null;
    this.flushDueAt = now + FLUSH_DELAY_MS;
    return FLUSH_DELAY_MS;
  }

  /** Reports usage and asks for a fresh hold. Never rejects: a failed renewal leaves the usage to the next one. */
  async renew(transport: LeaseTransport, now: () => number, failures = 0, handBack = false): Promise<void> {
    const started = now();
    if (this.renewingSince !== null && started - this.renewingSince < RENEWAL_LOST_MS) return;
    this.renewingSince = started;
    this.flushDueAt = null;
    const used = { ...this.unreported };
    const inFlight = { ...this.inFlight };
    let reply: LeaseReply;
    try {
      const want = handBack ? { requests: 0, tokens: 0, nanos: 0, slots: 0 } : this.want(started);
      reply = await transport.lease({ leaseId: this.leaseId, scope: this.scope, used, inFlight, want, ttlMs: this.ttlMs });
    } catch (error) {
      // Unknown whether the limiter applied it: reporting the usage again can only overcharge, never overspend.
      console.error("renewing a lease failed:", error);
      this.hold = null;
      this.renewingSince = null;
      // Usage waiting to be reported is tried again shortly, so a passing failure does not leave it uncounted.
      const waiting = used.requests > 0 || used.tokens > 0 || used.nanos > 0;
      if (waiting && failures < RENEWAL_RETRIES) {
        await transport.wait(RENEWAL_RETRY_MS * 2 ** failures);
        await this.renew(transport, now, failures + 1);
      }
      return;
    }
    this.roundTripMs = now() - started;
    this.unreported.requests -= used.requests;
    this.unreported.tokens -= used.tokens;
    this.unreported.nanos -= used.nanos;
    this.renewingSince = null;
    if (reply.ok) {
      this.leaseId = reply.leaseId;
      this.hold = reply.hold;
      this.expiresAt = reply.expiresAt;
      this.renewedAt = now();
      const beyond = (held: number | null, running: number) => (held === null ? null : held - running);
      this.granted = { requests: reply.hold.requests, tokens: beyond(reply.hold.tokens, inFlight.tokens), nanos: beyond(reply.hold.nanos, inFlight.nanos), slots: beyond(reply.hold.slots, inFlight.slots) };
    } else {
      this.leaseId = null;
      this.hold = null;
      this.strictUntil = now() + STRICT_RETRY_MS;
    }
    // Usage that settled while this renewal was under way is reported by the next one, not left to chance.
    if (this.flushDueAt !== null) {
      await transport.wait(Math.max(0, this.flushDueAt - now()));
      await this.renew(transport, now);
    }
  }

  /**
   * After a flush, waits a moment and, if nothing was admitted or is running meanwhile, hands the lease's headroom
   * back, so an idle isolate does not sit on allowance other isolates could use until the lease expires.
   */
  async handBackWhenIdle(transport: LeaseTransport, now: () => number): Promise<void> {
    const admitted = this.admissions;
    await transport.wait(IDLE_HAND_BACK_MS);
    if (!this.hold || this.admissions !== admitted || this.inFlight.slots > 0 || this.renewingSince !== null) return;
    await this.renew(transport, now, 0, true);
    // The next request asks for a fresh lease sized to the traffic then.
    if (this.admissions === admitted) this.hold = null;
  }

  /** Usage not reported yet (for tests and the simulation). */
  pendingReport(): { requests: number; tokens: number; nanos: number } {
    return { ...this.unreported };
  }
}
