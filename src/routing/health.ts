/**
 * Origin health and load, as each isolate sees it, shared within a Cloudflare location through the Cache API.
 *
 * A passive circuit breaker per origin (provider key): CIRCUIT_FAILURE_THRESHOLD consecutive failures open it for
 * CIRCUIT_COOLDOWN_SECONDS; after that one request is let through as a probe — success closes it, failure opens it
 * again. The isolate that opens a circuit publishes it to the location's cache; other isolates read it back at most
 * every SYNC_INTERVAL_MS per origin, in the background. The Cache API is the right reach: free, local, fast, and
 * health is a property of a location's path to the origin (a tunnel can be down from one colo and up from another);
 * entries expire with the cool-down, so a stale "open" heals itself. KV would spread a fact that is local, slowly,
 * with write limits; a Durable Object would put a second call on every request.
 *
 * In-flight counts are per isolate and drive least-outstanding-requests choice between healthy origins.
 */
import type { Env } from "../env";
import { originKey, type OriginReport, type ProbeReports } from "./probe";
import { weightedOrder, type Target } from "./resolve";
import { settingsOf } from "../settings";

interface OriginHealth {
  /** The latest scheduled probe's verdict and load report, if probing is on. */
  probe?: OriginReport | undefined;
  /** When that report stops counting (HEALTH_PROBE_TTL_SECONDS after it was taken): no probe, no verdict. */
  probeExpiresAt?: number;
  failures: number;
  openUntil: number;
  /** A half-open probe is on its way; others keep away until it reports. */
  probing: boolean;
  inFlight: number;
  syncedAt: number;
  lastSuccessAt?: number;
}

const SYNC_INTERVAL_MS = 2_000;
const CACHE_ORIGIN = "https://origin-health.gateway.internal/";
const origins = new Map<string, OriginHealth>();

function keyOf(target: Target): string {
  return originKey(target);
}

function stateOf(target: Target): OriginHealth {
  const key = keyOf(target);
  let state = origins.get(key);
  if (!state) {
    state = { failures: 0, openUntil: 0, probing: false, inFlight: 0, syncedAt: 0 };
    origins.set(key, state);
  }
  return state;
}

function cacheUrl(target: Target): string {
  return CACHE_ORIGIN + encodeURIComponent(keyOf(target));
}

function locationCache(): Cache | undefined {
  return typeof caches === "undefined" ? undefined : caches.default;
}

export interface HealthSettings {
  threshold: number;
  cooldownMs: number;
}

export function healthSettings(env: Env): HealthSettings {
  const settings = settingsOf(env);
  return { threshold: settings.CIRCUIT_FAILURE_THRESHOLD, cooldownMs: settings.CIRCUIT_COOLDOWN_SECONDS * 1000 };
}

/** Takes in the scheduled probe's latest reports (read with the config refresh), each valid for `ttlMs`. */
export function applyProbeReports(reports: ProbeReports, ttlMs: number): void {
  for (const [key, report] of Object.entries(reports)) {
    const state = origins.get(key) ?? { failures: 0, openUntil: 0, probing: false, inFlight: 0, syncedAt: 0 };
    state.probe = report;
    state.probeExpiresAt = report.checkedAt + ttlMs;
    origins.set(key, state);
  }
}

/** The scheduled probe's report while it is valid: once it expires (probing off, the cron stalled) it says nothing. */
function liveProbe(state: OriginHealth, now: number): OriginReport | undefined {
  return state.probe && (state.probeExpiresAt ?? 0) > now ? state.probe : undefined;
}

/** Whether a request may go to this origin now: closed, or cooled down and no probe already out. */
export function isAvailable(target: Target, now = Date.now()): boolean {
  const state = stateOf(target);
  // The scheduled probe found it down, and no request has succeeded there since.
  const probe = liveProbe(state, now);
  if (probe && !probe.healthy && probe.checkedAt > (state.lastSuccessAt ?? 0)) return false;
  if (state.openUntil <= now) return !state.probing || state.failures === 0;
  return false;
}

/** Requests waiting in the origin's own queue, as the scheduled probe last read it from vLLM's metrics (0: none known). */
export function queuedAt(target: Target, now = Date.now()): number {
  return liveProbe(stateOf(target), now)?.waiting ?? 0;
}

/** An origin's circuit as this isolate sees it (and the location, for an opened circuit), for the admin API. */
export interface CircuitView {
  state: "closed" | "open" | "half_open";
  failures: number;
  openUntil: number;
  inFlight: number;
  lastSuccessAt: number | null;
}

/** Reads, without changing anything, what routing knows of an origin's circuit. */
export async function circuitView(target: Target, settings: HealthSettings, now = Date.now()): Promise<CircuitView> {
  const state = origins.get(keyOf(target));
  let openUntil = state?.openUntil ?? 0;
  // Another isolate of this location may have opened it: its published entry says until when.
  const hit = await locationCache()?.match(cacheUrl(target)).catch(() => undefined);
  if (hit) openUntil = Math.max(openUntil, Number(((await hit.json().catch(() => ({}))) as { openUntil?: unknown }).openUntil) || 0);
  const failures = state?.failures ?? 0;
  const open = openUntil > now;
  return {
    state: open ? "open" : failures >= settings.threshold ? "half_open" : "closed",
    failures,
    openUntil: open ? openUntil : 0,
    inFlight: state?.inFlight ?? 0,
    lastSuccessAt: state?.lastSuccessAt ?? null,
  };
}

/** Learns, in the background, what other isolates of this location found out about these origins. */
export function syncHealth(targets: readonly Target[], waitUntil: (promise: Promise<unknown>) => void, now = Date.now()): void {
  const cache = locationCache();
  if (!cache) return;
  for (const target of targets) {
    const state = stateOf(target);
    if (now - state.syncedAt < SYNC_INTERVAL_MS) continue;
    state.syncedAt = now;
    waitUntil(
      cache
        .match(cacheUrl(target))
        .then(async (hit) => {
          if (!hit) return;
          const { openUntil } = (await hit.json()) as { openUntil: number };
          if (openUntil > state.openUntil) state.openUntil = openUntil;
        })
        .catch(() => undefined),
    );
  }
}

export function beginAttempt(target: Target): void {
  const state = stateOf(target);
  state.inFlight += 1;
  if (state.failures > 0 && state.openUntil <= Date.now()) state.probing = true;
}

export function endAttempt(target: Target): void {
  const state = stateOf(target);
  state.inFlight = Math.max(0, state.inFlight - 1);
}

/**
 * The origin started its answer: a half-open circuit closes, but the count of consecutive failures stands until the
 * answer ends well — a stream that breaks after its 200 is a failure that counts toward the threshold.
 */
export function recordAnswerStarted(target: Target): void {
  const state = stateOf(target);
  state.openUntil = 0;
  state.probing = false;
}

/** The answer ended well: the origin's failures are forgiven. */
export function recordSuccess(target: Target): void {
  const state = stateOf(target);
  state.lastSuccessAt = Date.now();
  state.failures = 0;
  state.openUntil = 0;
  state.probing = false;
}

/**
 * An attempt that says nothing of the origin's health (it answered 4xx, refused the gateway's credentials, the client
 * left) ends a half-open trial without a verdict: the next request is let through as the trial.
 */
export function releaseTrial(target: Target): void {
  stateOf(target).probing = false;
}

/** Counts a failure; at the threshold the circuit opens here and is published to the location. */
export function recordFailure(target: Target, settings: HealthSettings, waitUntil: (promise: Promise<unknown>) => void): void {
  const state = stateOf(target);
  state.failures += 1;
  state.probing = false;
  if (state.failures < settings.threshold) return;
  state.openUntil = Date.now() + settings.cooldownMs;
  console.log(JSON.stringify({ event: "circuit_open", origin: keyOf(target), failures: state.failures, open_until: new Date(state.openUntil).toISOString() }));
  const cache = locationCache();
  if (!cache) return;
  const seconds = Math.max(1, Math.ceil(settings.cooldownMs / 1000));
  const entry = new Response(JSON.stringify({ openUntil: state.openUntil }), { headers: { "content-type": "application/json", "cache-control": `max-age=${seconds}` } });
  waitUntil(cache.put(cacheUrl(target), entry).catch(() => undefined));
}

/** FNV-1a: a small, stable hash for rendezvous ordering. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A replica's share of traffic with room to spare: its weight, divided by one more than the queue vLLM last reported
 * to the probe — so a replica with five requests waiting gets a sixth of its share, not none of it. Every isolate
 * shifts traffic in proportion, instead of all of them moving everything to the other replica until the next probe.
 */
function effectiveWeight(target: Target, now: number): number {
  return target.key.weight / (1 + queuedAt(target, now));
}

/**
 * The order to try candidates in. Healthy origins first. With an affinity key (a session header or a prompt-prefix
 * hash) the order is a weighted rendezvous hash, so a conversation keeps landing on the replica holding its prefix
 * cache; otherwise the fewest in-flight requests (from this isolate) per unit of effective weight wins, a weighted
 * random order by effective weight breaking ties. Standby keys (weight 0) and open circuits go last; when nothing is
 * healthy everything is tried anyway.
 */
export function orderTargets(targets: readonly Target[], affinityKey: string | undefined, now = Date.now(), random: () => number = Math.random): Target[] {
  if (targets.length < 2) return [...targets];
  const score = (target: Target): number => {
    if (target.key.weight <= 0) return Number.POSITIVE_INFINITY;
    // Weighted rendezvous hashing: −ln(u)/w, smallest wins; a replica's share follows its weight.
    if (affinityKey !== undefined) return -Math.log((hash(`${affinityKey}|${target.key.id}`) + 1) / 0x100000001) / target.key.weight;
    return stateOf(target).inFlight / effectiveWeight(target, now);
  };
  const shuffled = affinityKey !== undefined ? targets : weightedOrder(targets.map((target) => ({ target, key: { weight: effectiveWeight(target, now) } })), random).map((entry) => entry.target);
  const ranked = shuffled.map((target, index) => ({ target, index, score: score(target), healthy: isAvailable(target, now) }));
  ranked.sort((a, b) => Number(b.healthy) - Number(a.healthy) || a.score - b.score || a.index - b.index);
  return ranked.map((entry) => entry.target);
}
