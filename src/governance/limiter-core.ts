/**
 * The state and rules of one limiter (a virtual key, a team or a customer), apart from the Durable Object that hosts it so the
 * same code runs in a simulation. One Durable Object per limiter. `admit` checks every limit and reserves the request's worst case in one
 * synchronous step over the object's in-memory state — no await between reading a counter and updating it, and the
 * object handles one call at a time — so concurrent requests cannot overshoot. A request that set no completion
 * limit is granted what remains (down to a few tokens), and the gateway writes that grant into the forwarded body.
 *
 * Every change is written through to the object's SQLite storage with the synchronous KV API: the runtime commits
 * the writes of one call together and holds the call's answer until they are durable (the output gate), while
 * other calls keep being served. So an admission, a settlement or a renewal that was answered survives a restart.
 * Reservations expire unless their request renews them while it runs; the alarm gives up the ones whose request
 * died, so budget is never held for longer than about one TTL.
 */
import { fitAllowance } from "./allowance";
import { LIFETIME, checkConcurrency, checkRequestWindows, constraintsFor, type RuleView } from "./limiter-rules";
import { leaseHoldOf } from "./lease-slice";
import { heldIn, type LimiterKv, type LimiterStorage, type Reservation } from "./limiter-storage";
import { currentWindowStart, windowSpec, type WindowSpec } from "./duration";
import { KEY_SCOPE, type AdmitDecision, type LeaseReply, type LeaseRequest, type LeaseUsage, type AdmitRequest, type LimiterConfig, type QuotaReport, type SettleRequest } from "./limits";
import { quotaReport, type Counter, type Pending } from "./limiter-quota";
import { IN_FLIGHT_RETRY_SECONDS, denial, secondsUntil } from "./limiter-denials";
import type { LimiterAlertSink } from "./limiter-alerts";

/** A running request renews every third of its TTL; one that missed renewals by more than this is taken for dead. */
const RENEWAL_SLACK_MS = 1_000;

const CONFIG_KEY = "config";
const COUNTER_PREFIX = "c:";
const RESERVATION_PREFIX = "r:";
/** Revoked ephemeral tokens (id → expiry, seconds), and "every token issued up to" (milliseconds). */
const REVOKED_PREFIX = "t:revoked:";
const REVOKED_BEFORE_KEY = "t:revoked-before";
export class LimiterCore {
  private config: LimiterConfig | null;
  private readonly counters = new Map<string, Counter>();
  private readonly reservations = new Map<string, Reservation>();
  private readonly revokedTokens = new Map<string, number>();
  private revokedBefore: number;
  private alarmAt: number | null = null;

  private readonly kv: LimiterKv;
  private readonly setAlarm: (at: number) => void;
  private readonly now: () => number;
  private readonly defaultLeaseShare: () => number;
  private readonly alerts: LimiterAlertSink | undefined;

  constructor(storage: LimiterStorage) {
    const kv = storage.kv;
    this.kv = kv;
    this.setAlarm = storage.setAlarm;
    this.now = storage.now;
    this.defaultLeaseShare = storage.defaultLeaseShare;
    this.alerts = storage.alerts;
    this.config = kv.get<LimiterConfig>(CONFIG_KEY) ?? null;
    this.revokedBefore = kv.get<number>(REVOKED_BEFORE_KEY) ?? 0;
    for (const [key, counter] of kv.list<Counter>({ prefix: COUNTER_PREFIX })) this.counters.set(key.slice(COUNTER_PREFIX.length), counter);
    for (const [key, reservation] of kv.list<Reservation>({ prefix: RESERVATION_PREFIX })) this.reservations.set(key.slice(RESERVATION_PREFIX.length), reservation);
    for (const [key, exp] of kv.list<number>({ prefix: REVOKED_PREFIX })) this.revokedTokens.set(key.slice(REVOKED_PREFIX.length), exp);
    // Reservations loaded after a restart belong to requests that may be gone: the alarm releases them once expired.
    this.scheduleAlarm();
  }

  /** Installs the key's limits (null when the key is deleted). Takes effect for the very next admission. */
  configure(config: LimiterConfig | null): void {
    this.config = config;
    if (config) this.kv.put(CONFIG_KEY, config);
    else this.kv.delete(CONFIG_KEY);
  }

  admit(request: AdmitRequest): AdmitDecision {
    const now = this.now();
    const config = this.config;
    if (!config) return { ...denial(401, "virtual_key_not_found", "virtual key not found: it does not exist or has been deleted", null), unconfigured: true };
    if (!config.active) return denial(403, "virtual_key_blocked", `virtual key '${config.name}' is inactive`, null);
    this.dropExpired(now);
    const token = request.token;
    if (token && (this.revokedTokens.has(token.id) || token.iat <= this.revokedBefore)) {
      return denial(401, "ephemeral_token_revoked", "ephemeral token has been revoked", null);
    }
    const scopes = request.scope === null ? [KEY_SCOPE] : [request.scope, KEY_SCOPE];
    const choices = Math.max(1, request.choices);
    const asked = request.completionTokens * choices;
    const lowerable = request.flexible || config.lowerExplicitLimits === true;
    const least = (lowerable ? Math.min(request.minCompletionTokens, request.completionTokens) : request.completionTokens) * choices;
    const view = this.ruleView(config, now);
    const fits = constraintsFor(config, scopes, request, asked, view).map((constraint) => ({ constraint, fit: fitAllowance(constraint.allowance, least) }));

    // A request that can never fit is the client's to change, whatever else is going on: 400 before any 429.
    const never = fits.find(({ fit }) => fit.kind === "never");
    if (never) return never.constraint.never();
    const refusal = checkRequestWindows(config, scopes, token, view) ?? checkConcurrency(config, view);
    if (refusal) return refusal;
    let granted = asked;
    for (const { constraint, fit } of fits) {
      if (fit.kind === "short") return constraint.short(fit.onlyInFlight);
      if (fit.kind === "fits") granted = Math.min(granted, fit.maxCompletion);
    }
    const perChoice = Math.floor(granted / choices);

    for (const limit of config.rateLimits) {
      if (!scopes.includes(limit.scope) || limit.request_max_limit == null || !limit.request_reset_duration) continue;
      this.increment(`requests:${limit.scope}`, windowSpec(limit.request_reset_duration, limit.calendar_aligned), now, 1);
    }
    if (token?.rate) this.increment(`token-requests:${token.id}`, windowSpec(token.rate.window, false), now, 1);
    const reservationId = crypto.randomUUID();
    const reservation: Reservation = {
      scope: request.scope,
      tokenId: token?.id,
      tokens: request.promptTokens + perChoice * choices,
      cost: Math.ceil(request.fixedNanos + request.nanosPerCompletionToken * perChoice * choices),
      expiresAt: now + request.ttlMs,
      ttlMs: request.ttlMs,
    };
    this.saveReservation(reservationId, reservation);
    return { ok: true, reservationId, completionTokens: perChoice };
  }

  /**
   * Bifrost's `reset_budget_usage`: every budget's spend in its current window back to zero (the window keeps its
   * start, so it resets when it would have). Reservations in flight stay held and settle as usual.
   */
  resetBudgets(): void {
    const config = this.config;
    if (!config) return;
    const now = this.now();
    for (const budget of config.budgets) {
      const name = `budget:${budget.id}`;
      const counter = this.counter(name, windowSpec(budget.reset_duration, budget.calendar_aligned), now);
      const next = { usage: 0, start: counter.start };
      this.counters.set(name, next);
      this.kv.put(COUNTER_PREFIX + name, next);
    }
  }

  /** Replaces reservations with what their requests actually used. Usage is charged even if a reservation expired. */
  settle(requests: SettleRequest[]): void {
    for (const request of requests) this.settleOne(request);
  }

  /** Keeps the reservations of requests still running from expiring. Returns how many were still held. */
  renew(reservationIds: string[], ttlMs: number): number {
    const expiresAt = this.now() + ttlMs;
    let held = 0;
    for (const id of reservationIds) {
      const reservation = this.reservations.get(id);
      if (!reservation) continue;
      held += 1;
      this.saveReservation(id, { ...reservation, expiresAt });
    }
    return held;
  }

  private settleOne(request: SettleRequest): void {
    const now = this.now();
    const reservation = this.reservations.get(request.reservationId);
    const tokenId = reservation?.tokenId ?? request.tokenId;
    if (tokenId && request.nanos > 0) this.increment(`token-budget:${tokenId}`, LIFETIME, now, request.nanos, 0);
    if (reservation) this.deleteReservation(request.reservationId);
    const config = this.config;
    if (!config) return;
    const scope = reservation ? reservation.scope : request.scope;
    const scopes = scope === null ? [KEY_SCOPE] : [scope, KEY_SCOPE];
    if (request.withdrawn && reservation) this.uncountRequest(config, scopes, reservation.tokenId, now);
    for (const limit of config.rateLimits) {
      if (!scopes.includes(limit.scope) || limit.token_max_limit == null || !limit.token_reset_duration || request.tokens <= 0) continue;
      this.increment(`tokens:${limit.scope}`, windowSpec(limit.token_reset_duration, limit.calendar_aligned), now, request.tokens);
    }
    for (const budget of config.budgets) {
      if (!scopes.includes(budget.scope) || request.nanos <= 0) continue;
      this.increment(`budget:${budget.id}`, windowSpec(budget.reset_duration, budget.calendar_aligned), now, request.nanos);
    }
  }

  /** Takes back the request windows' count of a request that another level refused. */
  private uncountRequest(config: LimiterConfig, scopes: string[], tokenId: string | undefined, now: number): void {
    for (const limit of config.rateLimits) {
      if (!scopes.includes(limit.scope) || limit.request_max_limit == null || !limit.request_reset_duration) continue;
      if (this.counter(`requests:${limit.scope}`, windowSpec(limit.request_reset_duration, limit.calendar_aligned), now).usage > 0) {
        this.increment(`requests:${limit.scope}`, windowSpec(limit.request_reset_duration, limit.calendar_aligned), now, -1);
      }
    }
    if (tokenId && this.counters.has(`token-requests:${tokenId}`)) {
      const stored = this.counters.get(`token-requests:${tokenId}`);
      if (stored && stored.usage > 0) {
        const next = { usage: stored.usage - 1, start: stored.start };
        this.counters.set(`token-requests:${tokenId}`, next);
        this.kv.put(COUNTER_PREFIX + `token-requests:${tokenId}`, next);
      }
    }
  }

  /** Is this ephemeral token still good? Asked where a request is authenticated without being admitted. */
  tokenRevoked(id: string, iat: number): boolean {
    return this.revokedTokens.has(id) || iat <= this.revokedBefore;
  }

  /** Revokes one of the key's ephemeral tokens (kept until it would have expired anyway). */
  revokeToken(id: string, exp: number): void {
    this.revokedTokens.set(id, exp);
    this.kv.put(REVOKED_PREFIX + id, exp);
  }

  /** Revokes every ephemeral token of the key issued up to now. */
  revokeAllTokens(): void {
    this.revokedBefore = this.now();
    this.kv.put(REVOKED_BEFORE_KEY, this.revokedBefore);
  }

  /** Gives up reservations whose requests stopped renewing them, and forgets revocations of expired tokens. */
  alarm(): void {
    this.alarmAt = null;
    this.dropExpired(this.now());
    const nowSeconds = this.now() / 1000;
    for (const [id, exp] of this.revokedTokens) {
      if (exp > nowSeconds) continue;
      this.revokedTokens.delete(id);
      this.kv.delete(REVOKED_PREFIX + id);
    }
    this.scheduleAlarm();
  }

  quota(): QuotaReport | null {
    const config = this.config;
    if (!config) return null;
    const now = this.now();
    let leases = 0;
    for (const reservation of this.reservations.values()) if (reservation.lease && reservation.expiresAt > now) leases += 1;
    return quotaReport({ ...config, leaseShare: config.leaseShare ?? this.defaultLeaseShare() }, { counter: (name, spec) => this.counter(name, spec, now), pending: (scope) => this.pending(scope, now), leases });
  }

  /**
   * Grants, renews or takes back an isolate's lease: a slice of what remains of every limit the scope counts against,
   * held like a reservation until renewed or expired. Usage the isolate admitted from it is charged first, so the
   * counters are exact up to what the isolate has not reported yet.
   */
  lease(request: LeaseRequest): LeaseReply {
    const now = this.now();
    const config = this.config;
    const previous = request.leaseId === null ? undefined : this.reservations.get(request.leaseId);
    if (request.leaseId !== null && previous?.lease) this.deleteReservation(request.leaseId);
    const scopes = request.scope === null ? [KEY_SCOPE] : [request.scope, KEY_SCOPE];
    this.chargeLeaseUsage(config, scopes, request.used, now);
    if (!config) return { ok: false, reason: "no_limiter" };
    if (!config.active) return { ok: false, reason: "inactive" };
    const share = config.leaseShare ?? this.defaultLeaseShare();
    if (share <= 0) return { ok: false, reason: "strict" };
    this.dropExpired(now);
    const hold = leaseHoldOf(config, scopes, request.inFlight, request.want, share, {
      used: (name, spec) => this.counter(name, spec, now).usage,
      held: (scope) => this.pending(scope, now),
      leased: (scope) => heldIn(this.reservations.values(), scope, now, true),
    });
    const leaseId = previous?.lease && request.leaseId !== null ? request.leaseId : crypto.randomUUID();
    const expiresAt = now + request.ttlMs;
    this.saveReservation(leaseId, {
      scope: request.scope, tokens: hold.tokens ?? 0, cost: hold.nanos ?? 0, requests: hold.requests ?? 0, slots: hold.slots ?? 0,
      expiresAt, ttlMs: request.ttlMs, lease: true,
    });
    return { ok: true, leaseId, hold, expiresAt };
  }

  /** Usage admitted from a lease: its requests, tokens and cost, in every window and budget of its scopes. */
  private chargeLeaseUsage(config: LimiterConfig | null, scopes: string[], used: LeaseUsage, now: number): void {
    if (!config || (used.requests <= 0 && used.tokens <= 0 && used.nanos <= 0)) return;
    for (const limit of config.rateLimits) {
      if (!scopes.includes(limit.scope)) continue;
      if (used.requests > 0 && limit.request_max_limit != null && limit.request_reset_duration) this.increment(`requests:${limit.scope}`, windowSpec(limit.request_reset_duration, limit.calendar_aligned), now, used.requests);
      if (used.tokens > 0 && limit.token_max_limit != null && limit.token_reset_duration) this.increment(`tokens:${limit.scope}`, windowSpec(limit.token_reset_duration, limit.calendar_aligned), now, used.tokens);
    }
    for (const budget of config.budgets) {
      if (scopes.includes(budget.scope) && used.nanos > 0) this.increment(`budget:${budget.id}`, windowSpec(budget.reset_duration, budget.calendar_aligned), now, used.nanos);
    }
  }

  /**
   * When what requests in flight hold is likely free: within a second while any of them is still renewing its
   * reservation (it settles as soon as it ends); when the earliest lapses if none is — their requests died, as in a
   * restart, and nothing but expiry will release them.
   */
  private inFlightRetrySeconds(now: number): number {
    let earliestLapse = Number.POSITIVE_INFINITY;
    for (const reservation of this.reservations.values()) {
      const renewing = reservation.ttlMs === undefined || reservation.expiresAt - now >= (reservation.ttlMs * 2) / 3 - RENEWAL_SLACK_MS;
      if (renewing) return IN_FLIGHT_RETRY_SECONDS;
      earliestLapse = Math.min(earliestLapse, reservation.expiresAt);
    }
    return Number.isFinite(earliestLapse) ? secondsUntil(earliestLapse, now) : IN_FLIGHT_RETRY_SECONDS;
  }

  private saveReservation(id: string, reservation: Reservation): void {
    this.reservations.set(id, reservation);
    this.kv.put(RESERVATION_PREFIX + id, reservation);
    if (this.alarmAt === null || reservation.expiresAt < this.alarmAt) {
      this.alarmAt = reservation.expiresAt;
      this.setAlarm(reservation.expiresAt);
    }
  }

  private deleteReservation(id: string): void {
    this.reservations.delete(id);
    this.kv.delete(RESERVATION_PREFIX + id);
  }

  /** Forgets expired reservations, in memory and in storage. */
  private dropExpired(now: number): void {
    for (const [id, reservation] of this.reservations) {
      if (reservation.expiresAt > now) continue;
      this.deleteReservation(id);
    }
  }

  /** The alarm at the earliest expiry of a held reservation (none when nothing is held). */
  private scheduleAlarm(): void {
    let next: number | null = null;
    for (const reservation of this.reservations.values()) next = next === null ? reservation.expiresAt : Math.min(next, reservation.expiresAt);
    if (next === null || next === this.alarmAt) return;
    this.alarmAt = next;
    this.setAlarm(next);
  }

  private pending(scope: string, now: number): Pending {
    return heldIn(this.reservations.values(), scope, now, false);
  }


  /** The counter's value in the window containing `now` (zero once its window has rolled over). */
  private counter(name: string, spec: WindowSpec, now: number): Counter {
    const stored = this.counters.get(name);
    if (!stored) return { usage: 0, start: spec.calendar ? currentWindowStart(spec, now, now) : now };
    const start = currentWindowStart(spec, stored.start, now);
    return start === stored.start ? stored : { usage: 0, start };
  }

  /** Adds to a counter in its current window (a fixed `start` pins a window that never rolls). */
  private increment(name: string, spec: WindowSpec, now: number, amount: number, start?: number): void {
    const counter = this.counter(name, spec, now);
    const next = { usage: counter.usage + amount, start: start ?? counter.start };
    this.counters.set(name, next);
    this.kv.put(COUNTER_PREFIX + name, next);
    this.alerts?.usage(this.config, name, spec, next, now);
  }

  /** Reports a refusal by the limit counted in `name` (for alerts); undefined, so a denial can follow it with `??`. */
  /** What admission's rules see of this limiter now. */
  private ruleView(config: LimiterConfig, now: number): RuleView {
    return {
      now,
      counter: (name, spec) => this.counter(name, spec, now),
      pending: (scope) => this.pending(scope, now),
      tokenInFlight: (tokenId) => {
        let held = 0;
        for (const reservation of this.reservations.values()) if (reservation.tokenId === tokenId && reservation.expiresAt > now) held += reservation.cost;
        return held;
      },
      inFlightRetrySeconds: () => this.inFlightRetrySeconds(now),
      refused: (name, spec, counter) => this.refused(config, name, spec, counter, now),
    };
  }

  private refused(config: LimiterConfig, name: string, spec: WindowSpec, counter: Counter, now: number): undefined {
    this.alerts?.refused(config, name, spec, counter, now);
  }
}
