/**
 * The Durable Object that hosts one limiter: a virtual key's, a team's or a customer's (see limiter-core.ts), and
 * sends its alerts. Its one alarm serves both reservation expiry and alert delivery: it is set for the earlier of the
 * two, and each re-asks for what it still needs when it fires.
 */
import { DurableObject } from "cloudflare:workers";
import { alertOutbox, type AlertOutbox } from "../alerts/outbox";
import { sendAlert } from "../alerts/send";
import type { Env } from "../env";
import { settingsOf } from "../settings";
import { limiterAlerts } from "./limiter-alerts";
import { LimiterCore } from "./limiter-core";
import { coalescedKv, type CoalescedKv } from "./coalesced-kv";
import type { LeaseReply, LeaseRequest, LimiterConfig, LimiterOp, LimiterOpResult, QuotaReport } from "./limits";

export class VirtualKeyLimiter extends DurableObject<Env> {
  private readonly core: LimiterCore;
  /** The core's writes, held for the length of one `apply` call and then written once per key. */
  private readonly writes: CoalescedKv;
  private readonly outbox: AlertOutbox;
  /** When the alarm is set for (null: not set, or it is firing). */
  private alarmAt: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const setAlarm = (at: number) => this.setAlarmBy(at);
    this.outbox = alertOutbox(ctx.storage.kv, setAlarm);
    const alerts = limiterAlerts(ctx.storage.kv, this.outbox, () => settingsOf(env));
    this.writes = coalescedKv(ctx.storage.kv);
    this.core = new LimiterCore({ kv: this.writes, setAlarm, now: () => Date.now(), defaultLeaseShare: () => settingsOf(env).LEASE_SHARE, alerts });
    // Deliveries queued before a restart are sent after it.
    const due = this.outbox.nextDue();
    if (due !== null) setAlarm(due);
  }

  /** The alarm at `at` unless it is already set for earlier. */
  private setAlarmBy(at: number): void {
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }

  configure(config: LimiterConfig | null): void {
    this.core.configure(config);
  }

  /**
   * Admissions, settlements and renewals — the one way requests reach the limiter (limiter-line.ts groups an isolate's
   * into shared calls) — applied in order; one that fails stops no other. Their writes are stored once per key.
   */
  apply(ops: LimiterOp[]): LimiterOpResult[] {
    // The group's counters are written once each, with the same durable result as once per operation.
    return this.writes.batch(() => ops.map((op) => {
      try {
        if (op.kind === "admit") return this.core.admit(op.request);
        if (op.kind === "settle") this.core.settle(op.requests);
        else this.core.renew(op.reservationIds, op.ttlMs);
        return null;
      } catch (error) {
        console.error(`limiter ${this.ctx.id.toString()}: ${op.kind} failed:`, error);
        return { error: error instanceof Error ? error.message : String(error) };
      }
    }));
  }

  resetBudgets(): void {
    this.writes.batch(() => this.core.resetBudgets());
  }

  lease(request: LeaseRequest): LeaseReply {
    return this.writes.batch(() => this.core.lease(request));
  }

  tokenRevoked(id: string, iat: number): boolean {
    return this.core.tokenRevoked(id, iat);
  }

  revokeToken(id: string, exp: number): void {
    this.core.revokeToken(id, exp);
  }

  revokeAllTokens(): void {
    this.core.revokeAllTokens();
  }

  quota(): QuotaReport | null {
    return this.core.quota();
  }

  override async alarm(): Promise<void> {
    const setFor = this.alarmAt ?? Date.now();
    this.alarmAt = null;
    this.core.alarm();
    await this.outbox.deliverDue(Math.max(setFor, Date.now()), (delivery) => sendAlert(delivery, this.env));
  }
}
