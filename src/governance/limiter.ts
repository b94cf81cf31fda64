/**
 * One Durable Object per virtual key. `admit` checks every limit and reserves the request's worst case in one
 * synchronous SQLite transaction — no await between reading a counter and writing it — so concurrent requests
 * cannot overshoot. `settle` swaps the reservation for actual usage; an alarm gives up reservations whose request
 * never settled (a crashed isolate), so budget is never held forever.
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
} from "./limits";

interface Counter {
  usage: number;
  start: number;
}

interface Pending {
  tokens: number;
  cost: number;
  count: number;
}

type Denial = Extract<AdmitDecision, { ok: false }>;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS config (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, usage REAL NOT NULL, window_start INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS reservations (
    id TEXT PRIMARY KEY, scope TEXT, tokens INTEGER NOT NULL, cost REAL NOT NULL,
    created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS reservations_by_expiry ON reservations (expires_at);
`;

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function secondsUntil(ms: number, now: number): number {
  return Math.max(1, Math.ceil((ms - now) / 1000));
}

export class VirtualKeyLimiter extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private config: LimiterConfig | null;
  private alarmAt: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(SCHEMA);
    const row = this.sql.exec<{ json: string }>("SELECT json FROM config WHERE id = 1").toArray()[0];
    this.config = row ? (JSON.parse(row.json) as LimiterConfig) : null;
    void ctx.blockConcurrencyWhile(async () => {
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  /** Installs the key's limits (null when the key is deleted). Takes effect for the very next admission. */
  configure(config: LimiterConfig | null): void {
    this.ctx.storage.transactionSync(() => {
      if (config) this.sql.exec("INSERT OR REPLACE INTO config (id, json) VALUES (1, ?)", JSON.stringify(config));
      else this.sql.exec("DELETE FROM config");
    });
    this.config = config;
  }

  admit(request: AdmitRequest): AdmitDecision {
    const now = Date.now();
    return this.ctx.storage.transactionSync(() => {
      const config = this.config;
      if (!config) return denial(401, "virtual_key_not_found", "virtual key not found: it does not exist or has been deleted", null);
      if (!config.active) return denial(401, "virtual_key_blocked", `virtual key '${config.name}' is inactive`, null);
      const scopes = request.scope === null ? [KEY_SCOPE] : [request.scope, KEY_SCOPE];
      const refusal = this.checkConcurrency(config, now) ?? this.checkRateLimits(config, scopes, request, now) ?? this.checkBudgets(config, scopes, request, now);
      if (refusal) return refusal;

      for (const limit of config.rateLimits) {
        if (!scopes.includes(limit.scope) || limit.request_max_limit == null || !limit.request_reset_duration) continue;
        const name = `requests:${limit.scope}`;
        const counter = this.counter(name, windowSpec(limit.request_reset_duration, limit.calendar_aligned), now);
        this.writeCounter(name, counter.usage + 1, counter.start);
      }
      const reservationId = crypto.randomUUID();
      const expiresAt = now + request.ttlMs;
      this.sql.exec(
        "INSERT INTO reservations (id, scope, tokens, cost, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        reservationId,
        request.scope,
        request.tokens,
        request.cost,
        now,
        expiresAt,
      );
      if (this.alarmAt === null || expiresAt < this.alarmAt) {
        this.alarmAt = expiresAt;
        void this.ctx.storage.setAlarm(expiresAt);
      }
      return { ok: true as const, reservationId };
    });
  }

  /** Replaces a reservation with what the request actually used. Usage is charged even if the reservation expired. */
  settle(request: SettleRequest): void {
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      const row = this.sql.exec<{ scope: string | null }>("SELECT scope FROM reservations WHERE id = ?", request.reservationId).toArray()[0];
      this.sql.exec("DELETE FROM reservations WHERE id = ?", request.reservationId);
      const config = this.config;
      if (!config) return;
      const scope = row ? row.scope : request.scope;
      const scopes = scope === null ? [KEY_SCOPE] : [scope, KEY_SCOPE];
      for (const limit of config.rateLimits) {
        if (!scopes.includes(limit.scope) || limit.token_max_limit == null || !limit.token_reset_duration || request.tokens <= 0) continue;
        const name = `tokens:${limit.scope}`;
        const counter = this.counter(name, windowSpec(limit.token_reset_duration, limit.calendar_aligned), now);
        this.writeCounter(name, counter.usage + request.tokens, counter.start);
      }
      for (const budget of config.budgets) {
        if (!scopes.includes(budget.scope) || request.cost <= 0) continue;
        const name = `budget:${budget.id}`;
        const counter = this.counter(name, windowSpec(budget.reset_duration, budget.calendar_aligned), now);
        this.writeCounter(name, counter.usage + request.cost, counter.start);
      }
    });
  }

  /** Gives up reservations whose requests never settled. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    this.sql.exec("DELETE FROM reservations WHERE expires_at <= ?", now);
    const next = this.sql.exec<{ next: number | null }>("SELECT MIN(expires_at) AS next FROM reservations").one().next;
    this.alarmAt = next;
    if (next !== null) await this.ctx.storage.setAlarm(next);
  }

  quota(): QuotaReport | null {
    const config = this.config;
    if (!config) return null;
    const now = Date.now();
    const window = (name: string, max: number, duration: string, calendarAligned: boolean, reserved: number): QuotaWindow => {
      const spec = windowSpec(duration, calendarAligned);
      const counter = this.counter(name, spec, now);
      return {
        max_limit: max,
        current_usage: counter.usage,
        reserved,
        remaining: Math.max(0, max - counter.usage - reserved),
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
        ...window(`budget:${b.id}`, b.max_limit, b.reset_duration, b.calendar_aligned, this.pending(b.scope, now).cost),
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

  private checkConcurrency(config: LimiterConfig, now: number): Denial | null {
    if (config.maxConcurrent === null) return null;
    const inFlight = this.pending(KEY_SCOPE, now).count;
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
    if (request.cost <= 0 || committed + request.cost <= budget.max_limit) return null;
    const resetsAt = windowEnd(spec, counter.start);
    const owner = budget.scope === KEY_SCOPE ? "virtual key" : `provider config ${budget.scope}`;
    return denial(
      402,
      "budget_exceeded",
      `budget exceeded: ${owner} budget ${committed.toFixed(4)} spent or reserved + ${request.cost.toFixed(4)} for this request > ${budget.max_limit.toFixed(4)} dollars (resets every ${budget.reset_duration}, next at ${iso(resetsAt)})`,
      secondsUntil(resetsAt, now),
    );
  }

  private pending(scope: string, now: number): Pending {
    const filter = scope === KEY_SCOPE ? "" : " AND scope = ?";
    const bindings: (string | number)[] = scope === KEY_SCOPE ? [now] : [now, scope];
    const row = this.sql
      .exec<{ tokens: number; cost: number; count: number }>(
        `SELECT COALESCE(SUM(tokens), 0) AS tokens, COALESCE(SUM(cost), 0) AS cost, COUNT(*) AS count FROM reservations WHERE expires_at > ?${filter}`,
        ...bindings,
      )
      .one();
    return row;
  }

  private counter(name: string, spec: WindowSpec, now: number): Counter {
    const row = this.sql.exec<{ usage: number; window_start: number }>("SELECT usage, window_start FROM counters WHERE name = ?", name).toArray()[0];
    if (!row) return { usage: 0, start: spec.calendar ? currentWindowStart(spec, now, now) : now };
    const start = currentWindowStart(spec, row.window_start, now);
    return start === row.window_start ? { usage: row.usage, start } : { usage: 0, start };
  }

  private writeCounter(name: string, usage: number, start: number): void {
    this.sql.exec("INSERT OR REPLACE INTO counters (name, usage, window_start) VALUES (?, ?, ?)", name, usage, start);
  }
}

function denial(status: Denial["status"], type: string, message: string, retryAfterSeconds: number | null, headers: Record<string, string> = {}): Denial {
  return { ok: false, status, type, message, retryAfterSeconds, headers };
}

function windowDenial(
  type: string,
  kind: "request" | "token",
  where: string,
  used: number,
  max: number,
  duration: string,
  resetsAt: number,
  now: number,
  header: "requests" | "tokens",
  asked?: number,
): Denial {
  const retryAfter = secondsUntil(resetsAt, now);
  const extra = asked === undefined ? "" : `, this request may use up to ${asked}`;
  return denial(
    429,
    type,
    `${kind} limit exceeded for ${where}: ${used}/${max}${extra} (window ${duration}, resets in ${retryAfter}s at ${iso(resetsAt)})`,
    retryAfter,
    {
      [`x-ratelimit-limit-${header}`]: String(max),
      [`x-ratelimit-remaining-${header}`]: String(Math.max(0, max - used)),
      [`x-ratelimit-reset-${header}`]: `${retryAfter}s`,
    },
  );
}
