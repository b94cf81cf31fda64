/**
 * Admission across the globe, simulated: the real limiter (LimiterCore, as its Durable Object runs it) and the real
 * isolate-side lease holder (LeaseHolder), on a virtual clock with injected latencies. Isolates in several locations
 * send a hot key's requests to one object; each call to the object pays the location's one-way latency twice plus
 * the object's service time, and the object serves one call at a time. Reported per mode and location: the latency
 * admission adds before a request may start, round trips per request, what the key sustained, and how far spend got
 * past the limit when isolates die holding unreported usage.
 */
import { LeaseHolder, type Demand, type LeasedShare, type LeaseTransport } from "../../src/governance/lease-holder";
import { LimiterCore } from "../../src/governance/limiter-core";
import { HOLD_MS, LimiterLine, WAIT_LIMIT_MS, type LimiterCall } from "../../src/governance/limiter-line";
import type { LimiterKv } from "../../src/governance/limiter-storage";
import { KEY_SCOPE, type AdmitDecision, type LeaseReply, type LeaseRequest, type LimiterConfig, type LimiterOp, type LimiterOpResult } from "../../src/governance/limits";

export interface Location {
  name: string;
  /** One-way latency to the limiter's object, ms. */
  oneWayMs: number;
  isolates: number;
}

export interface Scenario {
  /**
   * "strict": every request asks the object, each operation its own call; "grouped": strict, each isolate's operations
   * sharing calls as the gateway sends them (limiter-line.ts); "leased": isolates admit from leases; "placed": the
   * Worker runs beside the object (Smart Placement), strict, and each client pays its own distance to it instead.
   */
  mode: "strict" | "grouped" | "leased" | "placed";
  locations: Location[];
  /** Offered requests per second, over all locations, reached after a linear ramp of `rampMs`. */
  requestsPerSecond: number;
  rampMs: number;
  durationMs: number;
  /** The key's token window (its size decides whether it runs out during the run). */
  tokenLimit: number;
  leaseShare: number;
  /** Object time per call, ms (a durable write each). */
  serviceMs: number;
  /** Object time per operation a call carries beyond its first, ms (its counters and reservation, no commit of its own). */
  opServiceMs: number;
  /** How long each admitted request runs before it settles, ms. */
  requestMs: number;
  /** One isolate dies every this many ms, losing what it had not reported (0: none die). */
  crashEveryMs: number;
  seed: number;
}

export interface LocationReport {
  name: string;
  requests: number;
  admitted: number;
  /** Latency admission added before the request could start, ms. */
  p50Ms: number;
  p99Ms: number;
  /** Share of requests admitted with no wait at all. */
  instantShare: number;
  /** The same once traffic has ramped up and every isolate had time to take a lease (a second after the ramp). */
  steadyInstantShare: number;
}

export interface Report {
  mode: Scenario["mode"];
  locations: LocationReport[];
  /** Calls to the object per request (admissions, settlements, renewals). */
  roundTripsPerRequest: number;
  /** Requests per second admitted. */
  admittedPerSecond: number;
  /** Tokens really used, those the limiter counted (dead isolates never reported theirs), the limit, and the bound on overspend (share × limit). */
  usedTokens: number;
  countedTokens: number;
  tokenLimit: number;
  overspend: number;
  bound: number;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Event {
  at: number;
  seq: number;
  run: () => void;
}

/** The next turn of the event loop, after every promise continuation has run (Node's setImmediate). */
const nextTurn = () => new Promise<void>((resolve) => (globalThis as unknown as { setImmediate: (callback: () => void) => void }).setImmediate(resolve));

const before = (a: Event, b: Event) => a.at < b.at || (a.at === b.at && a.seq < b.seq);

/** Events on a virtual clock, run in time order (a binary heap); callbacks may schedule more. */
class Clock {
  now = 0;
  private readonly heap: Event[] = [];
  private seq = 0;

  at(time: number, run: () => void): void {
    const heap = this.heap;
    heap.push({ at: time, seq: this.seq++, run });
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i] as Event, heap[parent] as Event)) break;
      [heap[i], heap[parent]] = [heap[parent] as Event, heap[i] as Event];
      i = parent;
    }
  }

  private next(): Event | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    for (let i = 0; ; ) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < heap.length && before(heap[left] as Event, heap[least] as Event)) least = left;
      if (right < heap.length && before(heap[right] as Event, heap[least] as Event)) least = right;
      if (least === i) break;
      [heap[i], heap[least]] = [heap[least] as Event, heap[i] as Event];
      i = least;
    }
    return top;
  }

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => this.at(this.now + ms, resolve));
  }

  /** Runs every event, letting promise continuations settle before the clock moves on. */
  async run(): Promise<void> {
    for (let event = this.next(); event; event = this.next()) {
      const moved = event.at !== this.now;
      this.now = event.at;
      if (moved) await nextTurn();
      event.run();
    }
    await nextTurn();
  }
}

class MemoryKv implements LimiterKv {
  private readonly map = new Map<string, unknown>();
  get<T>(key: string): T | undefined {
    return this.map.get(key) as T | undefined;
  }
  put<T>(key: string, value: T): void {
    this.map.set(key, structuredClone(value));
  }
  delete(key: string): boolean {
    return this.map.delete(key);
  }
  *list<T>(options: { prefix: string }): Iterable<[string, T]> {
    for (const [key, value] of this.map) if (key.startsWith(options.prefix)) yield [key, value as T];
  }
}

/** The key's object: one call at a time, each taking `serviceMs`, reached over each location's latency. */
class SimulatedObject {
  readonly core: LimiterCore;
  private busyUntil = 0;
  calls = 0;

  constructor(
    private readonly clock: Clock,
    private readonly serviceMs: number,
    config: LimiterConfig,
  ) {
    this.core = new LimiterCore({ kv: new MemoryKv(), setAlarm: (at) => clock.at(at, () => this.core.alarm()), now: () => clock.now, defaultLeaseShare: () => 0 });
    this.core.configure(config);
  }

  /** A call that reaches the object after `oneWayMs`, carrying `ops` operations (each beyond the first adds `opServiceMs`). */
  call<T>(oneWayMs: number, work: () => T, ops = 1, opServiceMs = 0): Promise<T> {
    this.calls += 1;
    return new Promise((resolve) => {
      // Calls queue in the order they reach the object, not the order they were sent.
      this.clock.at(this.clock.now + oneWayMs, () => {
        this.busyUntil = Math.max(this.clock.now, this.busyUntil) + this.serviceMs + (ops - 1) * opServiceMs;
        this.clock.at(this.busyUntil, () => {
          const result = work();
          this.clock.at(this.clock.now + oneWayMs, () => resolve(result));
        });
      });
    });
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;
}

interface Isolate {
  location: Location;
  holder: LeaseHolder;
  /** Its line to the key's object, in grouped mode. */
  line: LimiterLine;
  alive: boolean;
}

export async function simulate(scenario: Scenario): Promise<Report> {
  const clock = new Clock();
  const rand = random(scenario.seed);
  const object = new SimulatedObject(clock, scenario.serviceMs, {
    name: "hot-key",
    active: true,
    maxConcurrent: null,
    budgets: [],
    rateLimits: [{ scope: KEY_SCOPE, token_max_limit: scenario.tokenLimit, token_reset_duration: "1h", request_max_limit: null, request_reset_duration: null, calendar_aligned: false }],
    leaseShare: scenario.mode === "leased" ? scenario.leaseShare : 0,
  });
  const leaseTtlMs = 10_000;
  // The line's timers run on the virtual clock.
  const newLine = () =>
    new LimiterLine(HOLD_MS, WAIT_LIMIT_MS, () => clock.now, (ms, fire) => {
      let live = true;
      clock.at(clock.now + ms, () => live && fire());
      return () => (live = false);
    });
  const isolates: Isolate[] = scenario.locations.flatMap((location) => Array.from({ length: location.isolates }, () => ({ location, holder: new LeaseHolder(null, leaseTtlMs), line: newLine(), alive: true })));
  const latencies = new Map<string, number[]>(scenario.locations.map((location) => [location.name, []]));
  const steadyLatencies = new Map<string, number[]>(scenario.locations.map((location) => [location.name, []]));
  const steadyFrom = scenario.rampMs + 1000;
  const admitted = new Map<string, number>(scenario.locations.map((location) => [location.name, 0]));
  let usedTokens = 0;
  let requests = 0;

  // In "placed" mode the Worker runs beside the object: admission is a local call, the client's distance is paid on the way in.
  const objectDistance = (isolate: Isolate) => (scenario.mode === "placed" ? 0.5 : isolate.location.oneWayMs);
  const transportOf = (isolate: Isolate): LeaseTransport => ({
    lease: (request: LeaseRequest) => object.call<LeaseReply>(objectDistance(isolate), () => object.core.lease(request)),
    wait: (ms) => clock.wait(ms),
  });

  const run = (isolate: Isolate, demand: Demand, started: number, finish: (used: number) => void) => {
    const completion = Math.floor(demand.completionTokens * (0.3 + 0.7 * rand()));
    const used = demand.promptTokens + completion;
    clock.at(started + scenario.requestMs, () => {
      usedTokens += used;
      if (isolate.alive) finish(used);
    });
  };

  const arrive = (isolate: Isolate) => {
    requests += 1;
    const arrivedAt = clock.now;
    const demand: Demand = { promptTokens: 100, completionTokens: 200, choices: 1, flexible: false, minCompletionTokens: 16, fixedNanos: 0, nanosPerCompletionToken: 0 };
    const record = (admittedNow: boolean) => {
      // Under placement the client's hop to the Worker counts as added latency too.
      const hop = scenario.mode === "placed" ? 2 * isolate.location.oneWayMs : 0;
      latencies.get(isolate.location.name)?.push(clock.now - arrivedAt + hop);
      if (arrivedAt >= steadyFrom) steadyLatencies.get(isolate.location.name)?.push(clock.now - arrivedAt + hop);
      if (admittedNow) admitted.set(isolate.location.name, (admitted.get(isolate.location.name) ?? 0) + 1);
    };
    const holder = isolate.holder;
    const transport = transportOf(isolate);
    const share: LeasedShare | null = scenario.mode === "leased" ? holder.tryAdmit(demand, clock.now) : null;
    if (scenario.mode === "leased" && holder.renewalDue(clock.now)) void holder.renew(transport, () => clock.now);
    if (share) {
      record(true);
      run(isolate, demand, clock.now, (used) => {
        holder.settle(share, { tokens: used, nanos: 0 });
        const delay = holder.scheduleFlush(clock.now);
        if (delay !== null) void clock.wait(delay).then(() => holder.renew(transport, () => clock.now)).then(() => holder.handBackWhenIdle(transport, () => clock.now));
      });
      return;
    }
    const request = { scope: null, promptTokens: 100, completionTokens: 200, choices: 1, flexible: false, minCompletionTokens: 16, fixedNanos: 0, nanosPerCompletionToken: 0, ttlMs: 60_000 };
    if (scenario.mode === "grouped") {
      // The object applies a group as the Durable Object's `apply` does: in order, each operation in one step.
      const call: LimiterCall = (ops: LimiterOp[]) =>
        object.call(objectDistance(isolate), () => ops.map((op): LimiterOpResult => (op.kind === "admit" ? object.core.admit(op.request) : op.kind === "settle" ? (object.core.settle(op.requests), null) : (object.core.renew(op.reservationIds, op.ttlMs), null))), ops.length, scenario.opServiceMs);
      const line = isolate.line;
      void line.submit({ kind: "admit", request }, call, () => undefined).then((result) => {
        const decision = result as AdmitDecision;
        record(decision.ok);
        if (!decision.ok) return;
        run(isolate, demand, clock.now, (used) => void line.submit({ kind: "settle", requests: [{ reservationId: decision.reservationId, scope: null, tokens: used, nanos: 0 }] }, call, () => undefined));
      });
      return;
    }
    void object.call(objectDistance(isolate), () => object.core.admit(request)).then((decision) => {
      record(decision.ok);
      if (!decision.ok) return;
      run(isolate, demand, clock.now, (used) => void object.call(objectDistance(isolate), () => object.core.settle([{ reservationId: decision.reservationId, scope: null, tokens: used, nanos: 0 }])));
    });
  };

  // Poisson arrivals, spread evenly over the isolates, the rate ramping up as real traffic does.
  const rateAt = (t: number) => scenario.requestsPerSecond * Math.min(1, Math.max(0.01, t / Math.max(1, scenario.rampMs)));
  for (let t = 0; t < scenario.durationMs; t += -Math.log(1 - rand()) * (1000 / rateAt(t))) {
    // The isolate is looked up when the request arrives: one that died meanwhile has been replaced.
    const index = Math.floor(rand() * isolates.length);
    clock.at(t, () => arrive(isolates[index] as Isolate));
  }
  // Isolates die now and then; a fresh one takes each one's place, with no lease.
  if (scenario.crashEveryMs > 0) {
    for (let t = scenario.crashEveryMs; t < scenario.durationMs; t += scenario.crashEveryMs) {
      clock.at(t, () => {
        const index = Math.floor(rand() * isolates.length);
        const dead = isolates[index] as Isolate;
        dead.alive = false;
        isolates[index] = { location: dead.location, holder: new LeaseHolder(null, leaseTtlMs), line: newLine(), alive: true };
      });
    }
  }
  await clock.run();

  const locations = scenario.locations.map((location): LocationReport => {
    const sorted = [...(latencies.get(location.name) ?? [])].sort((a, b) => a - b);
    const steady = steadyLatencies.get(location.name) ?? [];
    return {
      name: location.name,
      requests: sorted.length,
      admitted: admitted.get(location.name) ?? 0,
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
      instantShare: sorted.length === 0 ? Number.NaN : sorted.filter((ms) => ms === 0).length / sorted.length,
      steadyInstantShare: steady.length === 0 ? Number.NaN : steady.filter((ms) => ms === 0).length / steady.length,
    };
  });
  const bound = Math.floor(scenario.tokenLimit * (scenario.mode === "leased" ? scenario.leaseShare : 0));
  return {
    mode: scenario.mode,
    locations,
    roundTripsPerRequest: object.calls / Math.max(1, requests),
    admittedPerSecond: (locations.reduce((sum, location) => sum + location.admitted, 0) * 1000) / scenario.durationMs,
    usedTokens,
    countedTokens: object.core.quota()?.rate_limits[0]?.tokens?.current_usage ?? Number.NaN,
    tokenLimit: scenario.tokenLimit,
    overspend: Math.max(0, usedTokens - scenario.tokenLimit),
    bound,
  };
}

/** Five locations 5–250 ms (one way) from the key's object, two isolates each. */
export const WORLD: Location[] = [
  { name: "near (5 ms)", oneWayMs: 5, isolates: 2 },
  { name: "same continent (30 ms)", oneWayMs: 30, isolates: 2 },
  { name: "across an ocean (80 ms)", oneWayMs: 80, isolates: 2 },
  { name: "far (150 ms)", oneWayMs: 150, isolates: 2 },
  { name: "antipodes (250 ms)", oneWayMs: 250, isolates: 2 },
];
