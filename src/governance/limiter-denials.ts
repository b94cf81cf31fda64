/** Units and refusal messages of the virtual-key limiter. */
import type { AdmitDecision } from "./limits";

export type Denial = Extract<AdmitDecision, { ok: false }>;

/** USD → integer nano-dollars, the unit budgets are counted in. */
export function nanos(dollars: number): number {
  return Math.round(dollars * 1e9);
}

export function dollars(nanoDollars: number): number {
  return nanoDollars / 1e9;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function secondsUntil(ms: number, now: number): number {
  return Math.max(1, Math.ceil((ms - now) / 1000));
}

export function denial(status: Denial["status"], type: string, message: string, retryAfterSeconds: number | null, headers: Record<string, string> = {}): Denial {
  return { ok: false, status, type, message, retryAfterSeconds, headers };
}

export function windowDenial(
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
