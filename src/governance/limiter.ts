/**
 * One Durable Object per virtual key. `admit` checks every limit and reserves the request's worst case in one
 * synchronous step over the object's in-memory state — no await between reading a counter and updating it, and the
 * object handles one call at a time — so concurrent requests cannot overshoot. Changes are written behind to the
 * object's SQLite-backed storage: coalesced every FLUSH_INTERVAL_MS into one unconfirmed write, so admission costs
 * one round trip rather than a storage commit per request; if the object itself is lost, at most that interval of
 * changes goes with it. `settle` swaps the reservation for actual usage; an alarm gives up reservations whose
 * request never settled (a crashed isolate), so budget is never held forever.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { currentWindowStart, windowEnd, windowSpec, type WindowSpec } from "./duration";
import {
  KEY_SCOPE,
  type AdmitDecision,
  type AdmitRequest,
  type LimiterConfig,
  type QuotaReport,
  type QuotaWindow,
  type ScopedBudget,
  type SettleRequest,
  type TokenScope,
} from "./limits";
import { denial, dollars, iso, nanos, secondsUntil, windowDenial, type Denial } from "./limiter-denials";
import { WriteBehind } from "./write-behind";

interface Counter {
  usage: number;
  start: number;
}

interface Reservation {
  scope: string | null;
  tokenId?: string | undefined;
  tokens: number;
  /** Nano-dollars: money is counted in integers so sums are exact. */
  cost: number;
  expiresAt: number;
}

interface Pending {
  tokens: number;
  cost: number;
  count: number;
}


const CONFIG_KEY = "config";
const COUNTER_PREFIX = "c:";
const RESERVATION_PREFIX = "r:";
/** Revoked ephemeral tokens (id → expiry, seconds), and "every token issued up to" (milliseconds). */
const REVOKED_PREFIX = "t:revoked:";
const REVOKED_BEFORE_KEY = "t:revoked-before";
/** An ephemeral token's sub-budget covers its whole life: a window that never rolls over. */
const LIFETIME: WindowSpec = { durationMs: Number.MAX_SAFE_INTEGER, calendar: undefined };
const UNCONFIRMED = { allowUnconfirmed: true } as const;
/** How long changes may wait in memory before they are written to storage together. */
const FLUSH_INTERVAL_MS = 20;

function inScope(reservation: Reservation, scope: string): boolean {
  return scope === KEY_SCOPE || reservation.scope === scope;
}

export class VirtualKeyLimiter extends DurableObject<Env> {
  private config: LimiterConfig | null = null;
  private readonly counters = new Map<string, Counter>();
  private readonly reservations = new Map<string, Reservation>();
  private readonly revokedTokens = new Map<string, number>();
  private revokedBefore = 0;
  private alarmAt: number | null = null;
  private readonly pendingWrites: WriteBehind<Counter | Reservation>;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.pendingWrites = new WriteBehind(
      ctx.storage,
      (key) => (key.startsWith(COUNTER_PREFIX) ? this.counters.get(key.slice(COUNTER_PREFIX.length)) : this.reservations.get(key.slice(RESERVATION_PREFIX.length))),
      FLUSH_INTERVAL_MS,
    );
    void ctx.blockConcurrencyWhile(async () => {
      const [config, counters, reservations, alarmAt, revoked, revokedBefore] = await Promise.all([
        ctx.storage.get<LimiterConfig>(CONFIG_KEY),
        ctx.storage.list<Counter>({ prefix: COUNTER_PREFIX }),
        ctx.storage.list<Reservation>({ prefix: RESERVATION_PREFIX }),
        ctx.storage.getAlarm(),
        ctx.storage.list<number>({ prefix: REVOKED_PREFIX }),
        ctx.storage.get<number>(REVOKED_BEFORE_KEY),
      ]);
      for (const [key, exp] of revoked) this.revokedTokens.set(key.slice(REVOKED_PREFIX.length), exp);
      this.revokedBefore = revokedBefore ?? 0;
      this.config = config ?? null;
      for (const [key, counter] of counters) this.counters.set(key.slice(COUNTER_PREFIX.length), counter);
      for (const [key, reservation] of reservations) this.reservations.set(key.slice(RESERVATION_PREFIX.length), reservation);
      this.alarmAt = alarmAt;
    });
  }

  /** Installs the key's limits (null when the key is deleted). Takes effect for the very next admission. */
  async configure(config: LimiterConfig | null): Promise<void> {
    this.config = config;
    if (config) await this.ctx.storage.put(CONFIG_KEY, config);
    else await this.ctx.storage.delete(CONFIG_KEY);
  }

  admit(request: AdmitRequest): AdmitDecision {
    for (const settlement of request.settlements ?? []) this.settleOne(settlement);
    const now = Date.now();
    const config = this.config;
    if (!config) return denial(401, "virtual_key_not_found", "virtual key not found: it does not exist or has been deleted", null);
    if (!config.active) return denial(401, "virtual_key_blocked", `virtual key '${config.name}' is inactive`, null);
    for (const id of this.dropExpired(now)) this.pendingWrites.removedKey(RESERVATION_PREFIX + id);
    const scopes = request.scope === null ? [KEY_SCOPE] : [request.scope, KEY_SCOPE];
    const refusal =
      (request.token ? this.checkToken(request.token, request, now) : null) ??
      this.checkConcurrency(config) ??
      this.checkRateLimits(config, scopes, request, now) ??
      this.checkBudgets(config, scopes, request, now);
    if (refusal) return refusal;

    for (const limit of config.rateLimits) {
      if (!scopes.includes(limit.scope) || limit.request_max_limit == null || !limit.request_reset_duration) continue;
      const name = `requests:${limit.scope}`;
      const counter = this.counter(name, windowSpec(limit.request_reset_duration, limit.calendar_aligned), now);
      this.setCounter(name, counter.usage + 1, counter.start);
    }
    const token = request.token;
    if (token?.rate) {
      const name = `token-requests:${token.id}`;
      const counter = this.counter(name, windowSpec(token.rate.window, false), now);
      this.setCounter(name, counter.usage + 1, counter.start);
    }
    const reservationId = crypto.randomUUID();
    const reservation: Reservation = { scope: request.scope, tokenId: token?.id, tokens: request.tokens, cost: nanos(request.cost), expiresAt: now + request.ttlMs };
    this.reservations.set(reservationId, reservation);
    this.pendingWrites.changedKey(RESERVATION_PREFIX + reservationId);
    if (this.alarmAt === null || reservation.expiresAt < this.alarmAt) {
      this.alarmAt = reservation.expiresAt;
      void this.ctx.storage.setAlarm(reservation.expiresAt, UNCONFIRMED);
    }
    return { ok: true, reservationId };
  }

  /**
   * Replaces a reservation with what the request actually used. Usage is charged even if the reservation expired.
   * Nothing here awaits storage: an awaited write would hold every other call (admissions) at the input gate.
   */
  settle(requests: SettleRequest[]): void {
    for (const request of requests) this.settleOne(request);
  }

  private settleOne(request: SettleRequest): void {
    const now = Date.now();
    const reservation = this.reservations.get(request.reservationId);
    const tokenId = reservation?.tokenId ?? request.tokenId;
    if (tokenId && request.cost > 0) {
      const name = `token-budget:${tokenId}`;
      this.setCounter(name, this.counter(name, LIFETIME, now).usage + nanos(request.cost), 0);
    }
    this.reservations.delete(request.reservationId);
    this.pendingWrites.removedKey(RESERVATION_PREFIX + request.reservationId);
    const config = this.config;
    if (config) {
      const scope = reservation ? reservation.scope : request.scope;
      const scopes = scope === null ? [KEY_SCOPE] : [scope, KEY_SCOPE];
      for (const limit of config.rateLimits) {
        if (!scopes.includes(limit.scope) || limit.token_max_limit == null || !limit.token_reset_duration || request.tokens <= 0) continue;
        const name = `tokens:${limit.scope}`;
        const counter = this.counter(name, windowSpec(limit.token_reset_duration, limit.calendar_aligned), now);
        this.setCounter(name, counter.usage + request.tokens, counter.start);
      }
      for (const budget of config.budgets) {
        if (!scopes.includes(budget.scope) || request.cost <= 0) continue;
        const name = `budget:${budget.id}`;
        const counter = this.counter(name, windowSpec(budget.reset_duration, budget.calendar_aligned), now);
        this.setCounter(name, counter.usage + nanos(request.cost), counter.start);
      }
    }
  }

  /** Revokes one of the key's ephemeral tokens (kept until it would have expired anyway). */
  async revokeToken(id: string, exp: number): Promise<void> {
    this.revokedTokens.set(id, exp);
    // Rare, and a promise to the caller: confirmed before the answer goes out.
    await this.ctx.storage.put(REVOKED_PREFIX + id, exp);
  }

  /** Revokes every ephemeral token of the key issued up to now. */
  async revokeAllTokens(): Promise<void> {
    this.revokedBefore = Date.now();
    await this.ctx.storage.put(REVOKED_BEFORE_KEY, this.revokedBefore);
  }

  private checkToken(token: TokenScope, request: AdmitRequest, now: number): Denial | null {
    if (this.revokedTokens.has(token.id) || token.iat <= this.revokedBefore) {
      return denial(401, "ephemeral_token_revoked", "ephemeral token has been revoked", null);
    }
    if (token.rate) {
      const spec = windowSpec(token.rate.window, false);
      const counter = this.counter(`token-requests:${token.id}`, spec, now);
      if (counter.usage + 1 > token.rate.max) {
        return windowDenial("request_limited", "request", "ephemeral token", counter.usage, token.rate.max, token.rate.window, windowEnd(spec, counter.start), now, "requests");
      }
    }
    if (token.budget !== undefined) {
      let pending = 0;
      for (const reservation of this.reservations.values()) if (reservation.tokenId === token.id && reservation.expiresAt > now) pending += reservation.cost;
      const committed = this.counter(`token-budget:${token.id}`, LIFETIME, now).usage + pending;
      const cost = nanos(request.cost);
      if (cost > 0 && committed + cost > nanos(token.budget)) {
        return denial(402, "budget_exceeded", `ephemeral token budget exhausted: ${dollars(committed).toFixed(4)} spent or reserved + ${request.cost.toFixed(4)} for this request > ${token.budget.toFixed(4)} dollars`, null);
      }
    }
    return null;
  }

  /** Gives up reservations whose requests never settled. */
  override async alarm(): Promise<void> {
    for (const id of this.dropExpired(Date.now())) this.pendingWrites.removedKey(RESERVATION_PREFIX + id);
    const nowSeconds = Date.now() / 1000;
    for (const [id, exp] of this.revokedTokens) {
      if (exp > nowSeconds) continue;
      this.revokedTokens.delete(id);
      void this.ctx.storage.delete(REVOKED_PREFIX + id, UNCONFIRMED);
    }
    await this.pendingWrites.flush();
    let next: number | null = null;
    for (const reservation of this.reservations.values()) next = next === null ? reservation.expiresAt : Math.min(next, reservation.expiresAt);
    this.alarmAt = next;
    if (next !== null) await this.ctx.storage.setAlarm(next);
  }

  /** Forgets expired reservations in memory; returns their ids so storage can follow. */
  private dropExpired(now: number): string[] {
    const expired: string[] = [];
    for (const [id, reservation] of this.reservations) {
      if (reservation.expiresAt <= now) {
        this.reservations.delete(id);
        expired.push(id);
      }
    }
    return expired;
  }

  quota(): QuotaReport | null {
    const config = this.config;
    if (!config) return null;
    const now = Date.now();
    const window = (name: string, max: number, duration: string, calendarAligned: boolean, reserved: number, unit = 1): QuotaWindow => {
      const spec = windowSpec(duration, calendarAligned);
      const counter = this.counter(name, spec, now);
      const used = counter.usage / unit;
      return {
        max_limit: max,
        current_usage: used,
        reserved: reserved / unit,
        remaining: Math.max(0, max - used - reserved / unit),
        reset_duration: duration,
        calendar_aligned: calendarAligned,
        last_reset: iso(counter.start),
        resets_at: iso(windowEnd(spec, counter.start)),
      };
    };
    return {
      virtual_key_name: config.name,
      is_active: config.active,
      budgets: config.budgets.map((b) => ({
        id: b.id,
        scope: b.scope,
        ...window(`budget:${b.id}`, b.max_limit, b.reset_duration, b.calendar_aligned, this.pending(b.scope, now).cost, 1e9),
      })),
      rate_limits: config.rateLimits.map((limit) => ({
        scope: limit.scope,
        requests:
          limit.request_max_limit != null && limit.request_reset_duration
            ? window(`requests:${limit.scope}`, limit.request_max_limit, limit.request_reset_duration, limit.calendar_aligned, 0)
            : null,
        tokens:
          limit.token_max_limit != null && limit.token_reset_duration
            ? window(`tokens:${limit.scope}`, limit.token_max_limit, limit.token_reset_duration, limit.calendar_aligned, this.pending(limit.scope, now).tokens)
            : null,
      })),
      concurrency: { max_concurrent_requests: config.maxConcurrent, in_flight: this.pending(KEY_SCOPE, now).count },
    };
  }

  private checkConcurrency(config: LimiterConfig): Denial | null {
    if (config.maxConcurrent === null) return null;
    const inFlight = this.reservations.size;
    if (inFlight < config.maxConcurrent) return null;
    return denial(429, "concurrency_limited", `concurrency limit reached: ${inFlight}/${config.maxConcurrent} requests in flight`, 1, {
      "x-ratelimit-limit-concurrency": String(config.maxConcurrent),
      "x-ratelimit-remaining-concurrency": "0",
    });
  }

  private checkRateLimits(config: LimiterConfig, scopes: string[], request: AdmitRequest, now: number): Denial | null {
    for (const scope of scopes) {
      for (const limit of config.rateLimits) {
        if (limit.scope !== scope) continue;
        const where = scope === KEY_SCOPE ? "virtual key" : `provider config ${scope}`;
        if (limit.request_max_limit != null && limit.request_reset_duration) {
          const spec = windowSpec(limit.request_reset_duration, limit.calendar_aligned);
          const counter = this.counter(`requests:${scope}`, spec, now);
          if (counter.usage + 1 > limit.request_max_limit) {
            return windowDenial("request_limited", "request", where, counter.usage, limit.request_max_limit, limit.request_reset_duration, windowEnd(spec, counter.start), now, "requests");
          }
        }
        if (limit.token_max_limit != null && limit.token_reset_duration) {
          const spec = windowSpec(limit.token_reset_duration, limit.calendar_aligned);
          const counter = this.counter(`tokens:${scope}`, spec, now);
          const used = counter.usage + this.pending(scope, now).tokens;
          if (used + request.tokens > limit.token_max_limit) {
            return windowDenial("token_limited", "token", where, used, limit.token_max_limit, limit.token_reset_duration, windowEnd(spec, counter.start), now, "tokens", request.tokens);
          }
        }
      }
    }
    return null;
  }

  private checkBudgets(config: LimiterConfig, scopes: string[], request: AdmitRequest, now: number): Denial | null {
    for (const scope of scopes) {
      for (const budget of config.budgets) {
        if (budget.scope !== scope) continue;
        const refusal = this.checkBudget(budget, request, now);
        if (refusal) return refusal;
      }
    }
    return null;
  }

  private checkBudget(budget: ScopedBudget, request: AdmitRequest, now: number): Denial | null {
    const spec = windowSpec(budget.reset_duration, budget.calendar_aligned);
    const counter = this.counter(`budget:${budget.id}`, spec, now);
    const committed = counter.usage + this.pending(budget.scope, now).cost;
    const cost = nanos(request.cost);
    if (cost <= 0 || committed + cost <= nanos(budget.max_limit)) return null;
    const resetsAt = windowEnd(spec, counter.start);
    const owner = budget.scope === KEY_SCOPE ? "virtual key" : `provider config ${budget.scope}`;
    return denial(
      402,
      "budget_exceeded",
      `budget exceeded: ${owner} budget ${dollars(committed).toFixed(4)} spent or reserved + ${request.cost.toFixed(4)} for this request > ${budget.max_limit.toFixed(4)} dollars (resets every ${budget.reset_duration}, next at ${iso(resetsAt)})`,
      secondsUntil(resetsAt, now),
    );
  }

  private pending(scope: string, now: number): Pending {
    const pending: Pending = { tokens: 0, cost: 0, count: 0 };
    for (const reservation of this.reservations.values()) {
      if (reservation.expiresAt <= now || !inScope(reservation, scope)) continue;
      pending.tokens += reservation.tokens;
      pending.cost += reservation.cost;
      pending.count += 1;
    }
    return pending;
  }

  /** The counter's value in the window containing `now` (zero once its window has rolled over). */
  private counter(name: string, spec: WindowSpec, now: number): Counter {
    const stored = this.counters.get(name);
    if (!stored) return { usage: 0, start: spec.calendar ? currentWindowStart(spec, now, now) : now };
    const start = currentWindowStart(spec, stored.start, now);
    return start === stored.start ? stored : { usage: 0, start };
  }

  private setCounter(name: string, usage: number, start: number): void {
    this.counters.set(name, { usage, start });
    this.pendingWrites.changedKey(COUNTER_PREFIX + name);
  }
}

