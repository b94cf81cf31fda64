/**
 * The admission simulation (bench/sim) on shortened scenarios: leased admission adds no latency for nearly every
 * request wherever the isolate is, one key is no longer capped by its object, and spend never gets past a limit by
 * more than the lease bound while isolates die holding unreported usage. `npm run sim` prints the full report.
 */
import { describe, expect, it } from "vitest";
import { WORLD, simulate, type Scenario } from "../../bench/sim/admission-sim";

const base: Omit<Scenario, "mode"> = { locations: WORLD, leaseShare: 0.05, serviceMs: 0.7, opServiceMs: 0.05, requestMs: 500, rampMs: 1000, seed: 11, requestsPerSecond: 2000, durationMs: 10_000, tokenLimit: 1e12, crashEveryMs: 0 };

describe("admission, simulated across five locations 5–250 ms from the key's object", () => {
  it("leased: no added latency at p50, and none for 95% of requests once warmed up, in every location; a hot key beyond one object's capacity", async () => {
    const leased = await simulate({ ...base, mode: "leased" });
    const strict = await simulate({ ...base, mode: "strict" });
    expect(leased.locations).toHaveLength(5);
    for (const location of leased.locations) {
      expect(location.requests, location.name).toBeGreaterThan(1000);
      expect(location.p50Ms, location.name).toBe(0);
      // Before its first lease (one round trip) and while traffic ramps up, an isolate asks the object.
      expect(location.instantShare, location.name).toBeGreaterThanOrEqual(0.9);
      expect(location.steadyInstantShare, location.name).toBeGreaterThanOrEqual(0.95);
    }
    // Strict admission makes two calls per request, more than the object serves: queueing adds seconds.
    expect(strict.roundTripsPerRequest).toBe(2);
    expect(Math.min(...strict.locations.map((location) => location.p50Ms))).toBeGreaterThan(1000);
    expect(leased.roundTripsPerRequest).toBeLessThan(0.2);
    expect(leased.admittedPerSecond).toBe(strict.admittedPerSecond);
  });

  it("grouped: strict admission with each isolate's operations sharing calls keeps a hot key under its object's capacity", async () => {
    const grouped = await simulate({ ...base, mode: "grouped" });
    const strict = await simulate({ ...base, mode: "strict" });
    // Ten isolates, each sending at most one call per 10 ms hold (or per round trip, if shorter): about half a call per
    // request at 2,000 requests/s, against strict admission's two.
    expect(grouped.roundTripsPerRequest).toBeLessThan(0.6);
    for (const location of grouped.locations) {
      expect(location.requests, location.name).toBeGreaterThan(1000);
      // Its round trip, plus at most the hold and the object's queue: never the strict queue's seconds.
      const roundTrip = 2 * (WORLD.find((entry) => entry.name === location.name)?.oneWayMs ?? 0);
      expect(location.p50Ms, location.name).toBeGreaterThanOrEqual(roundTrip);
      expect(location.p99Ms, location.name).toBeLessThanOrEqual(roundTrip + 30);
      expect(location.admitted, location.name).toBe(location.requests);
    }
    expect(grouped.admittedPerSecond).toBe(strict.admittedPerSecond);
    expect(grouped.countedTokens).toBe(grouped.usedTokens);
  });

  it("running a window out while an isolate dies every 250 ms: overspend within the bound, none when strict", async () => {
    const scenario = { ...base, requestsPerSecond: 400, durationMs: 8000, tokenLimit: 500_000, crashEveryMs: 250 };
    const leased = await simulate({ ...scenario, mode: "leased" });
    const strict = await simulate({ ...scenario, mode: "strict" });
    expect(leased.bound).toBe(25_000);
    // The window did run out: fewer were admitted than asked.
    expect(leased.locations.reduce((sum, location) => sum + location.requests - location.admitted, 0)).toBeGreaterThan(100);
    // Dead isolates took unreported usage with them: the limiter counted less than was used…
    expect(leased.countedTokens).toBeLessThan(leased.usedTokens);
    // …and yet spend stayed within the limit plus the bound.
    expect(leased.usedTokens).toBeLessThanOrEqual(leased.tokenLimit + leased.bound);
    expect(strict.overspend).toBe(0);
    const grouped = await simulate({ ...scenario, mode: "grouped" });
    expect(grouped.overspend).toBe(0);
  });
});
