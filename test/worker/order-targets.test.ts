/** Between healthy replicas, the queue vLLM reports lowers a replica's share in proportion instead of taking it away. */
import { describe, expect, it } from "vitest";
import { applyProbeReports, orderTargets } from "../../src/routing/health";
import type { Target } from "../../src/routing/resolve";

/** Just what ordering reads of a target: its provider's name and its key's id and weight. */
const target = (id: string, weight: number) => ({ provider: { name: "ordering" }, key: { id, weight } }) as unknown as Target;

/** The first target for a draw of `point` (0–1) from the weighted random order. */
const firstFor = (targets: Target[], point: number) => orderTargets(targets, undefined, Date.now(), () => point)[0]?.key.id;

describe("ordering replicas by load", () => {
  it("gives a replica with a queue a share in proportion to its weight over one more than its queue", () => {
    const big = target("big", 3);
    const small = target("small", 1);
    // No queue: shares 3:1, so draws below 0.75 pick the big replica.
    expect([0.1, 0.7, 0.76, 0.99].map((point) => firstFor([big, small], point))).toEqual(["big", "big", "small", "small"]);
    // Five requests waiting at the big one: 3 / 6 = 0.5 against 1, a third of the traffic rather than none.
    applyProbeReports({ "ordering/big": { healthy: true, waiting: 5, checkedAt: Date.now() } }, 60_000);
    expect([0.1, 0.3, 0.34, 0.99].map((point) => firstFor([big, small], point))).toEqual(["big", "big", "small", "small"]);
    // A session keeps its replica whatever the queues: the rendezvous hash, not the draw, decides.
    const forSession = (point: number) => orderTargets([big, small], "session-1", Date.now(), () => point)[0]?.key.id;
    expect(forSession(0.01)).toBe(forSession(0.99));
  });
});
