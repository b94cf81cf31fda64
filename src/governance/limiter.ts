/** The Durable Object that hosts one limiter: a virtual key's, a team's or a customer's (see limiter-core.ts). */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { settingsOf } from "../settings";
import { LimiterCore } from "./limiter-core";
import type { AdmitDecision, AdmitRequest, LeaseReply, LeaseRequest, LimiterConfig, QuotaReport, SettleRequest } from "./limits";

export class VirtualKeyLimiter extends DurableObject<Env> {
  private readonly core: LimiterCore;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.core = new LimiterCore({ kv: ctx.storage.kv, setAlarm: (at) => void ctx.storage.setAlarm(at), now: () => Date.now(), defaultLeaseShare: () => settingsOf(env).LEASE_SHARE });
  }

  configure(config: LimiterConfig | null): void {
    this.core.configure(config);
  }

  admit(request: AdmitRequest): AdmitDecision {
    return this.core.admit(request);
  }

  settle(requests: SettleRequest[]): void {
    this.core.settle(requests);
  }

  renew(reservationIds: string[], ttlMs: number): number {
    return this.core.renew(reservationIds, ttlMs);
  }

  lease(request: LeaseRequest): LeaseReply {
    return this.core.lease(request);
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

  override alarm(): void {
    this.core.alarm();
  }
}
