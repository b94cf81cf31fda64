/**
 * The isolate's lease holder on its own, against a scripted limiter: what it admits from a lease, what it reports,
 * and that usage survives a failed renewal.
 */
import { describe, expect, it } from "vitest";
import { LeaseHolder, type Demand, type LeaseTransport } from "../../src/governance/lease-holder";
import type { LeaseReply, LeaseRequest } from "../../src/governance/limits";

const DEMAND: Demand = { promptTokens: 10, completionTokens: 90, choices: 1, flexible: false, minCompletionTokens: 16, fixedNanos: 0, nanosPerCompletionToken: 0 };

/** A limiter that grants `tokens` each time, fails the calls listed in `failing`, and records what it was sent. */
function scripted(tokens: number, failing: number[] = []) {
  const sent: LeaseRequest[] = [];
  const waits: number[] = [];
  const transport: LeaseTransport = {
    lease: async (request) => {
      sent.push(request);
      if (failing.includes(sent.length)) throw new Error(`call ${sent.length} lost`);
      const reply: LeaseReply = { ok: true, leaseId: "lease-1", hold: { requests: null, tokens, nanos: null, slots: null }, expiresAt: 60_000 };
      return reply;
    },
    wait: async (ms) => {
      waits.push(ms);
    },
  };
  return { transport, sent, waits };
}

describe("a lease holder", () => {
  it("admits from its hold and no further, and reports what settled", async () => {
    const limiter = scripted(250);
    const holder = new LeaseHolder(null, 10_000);
    expect(holder.tryAdmit(DEMAND, 0)).toBeNull();
    await holder.renew(limiter.transport, () => 0);
    const first = holder.tryAdmit(DEMAND, 1);
    const second = holder.tryAdmit(DEMAND, 1);
    // 100 tokens each: a third would need 300 of the 250 held.
    expect([first?.tokens, second?.tokens]).toEqual([100, 100]);
    expect(holder.tryAdmit(DEMAND, 1)).toBeNull();
    if (!first || !second) return;
    holder.settle(first, { tokens: 40, nanos: 0 });
    // 60 of the first's worst case came back: room for one more (250 - 100 in flight - 40 used = 110 ≥ 100).
    expect(holder.tryAdmit(DEMAND, 2)?.tokens).toBe(100);
    await holder.renew(limiter.transport, () => 3);
    expect(limiter.sent[1]?.used).toEqual({ requests: 3, tokens: 40, nanos: 0 });
    expect(limiter.sent[1]?.inFlight).toEqual({ tokens: 200, nanos: 0, slots: 2 });
    expect(holder.pendingReport()).toEqual({ requests: 0, tokens: 0, nanos: 0 });
  });

  it("reports usage again after a renewal that failed, and only once it got through", async () => {
    const limiter = scripted(1000, [2]);
    const holder = new LeaseHolder(null, 10_000);
    await holder.renew(limiter.transport, () => 0);
    const share = holder.tryAdmit(DEMAND, 1);
    expect(share).not.toBeNull();
    if (share) holder.settle(share, { tokens: 70, nanos: 0 });
    await holder.renew(limiter.transport, () => 2);
    // Call 2 was lost; call 3, a second later, carried the same usage.
    expect(limiter.sent.map((request) => request.used)).toEqual([
      { requests: 0, tokens: 0, nanos: 0 },
      { requests: 1, tokens: 70, nanos: 0 },
      { requests: 1, tokens: 70, nanos: 0 },
    ]);
    expect(limiter.waits).toEqual([1000]);
    expect(holder.pendingReport()).toEqual({ requests: 0, tokens: 0, nanos: 0 });
  });
});
