/** Units and refusal messages of the virtual-key limiter. */
import type { AdmitDecision, DenialStatus } from "./limits";

export type Denial = Extract<AdmitDecision, { ok: false }>;

/** When only requests still in flight stand in the way, they settle within seconds: retry after this long. */
export const IN_FLIGHT_RETRY_SECONDS = 1;

/** USD → integer nano-dollars, the unit budgets are counted in. */
export function nanos(dollars: number): number {
  return Math.round(dollars * 1e9);
}

export function dollars(nanoDollars: number): number {
  return nanoDollars / 1e9;
}

/** Money with the precision it has: at least two decimals, at most nine, no trailing zeros beyond two. */
export function money(nanoDollars: number): string {
  const fixed = dollars(nanoDollars).toFixed(9).replace(/0+$/, "");
  const [whole, fraction = ""] = fixed.split(".");
  return `$${whole}.${fraction.padEnd(2, "0")}`;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function secondsUntil(ms: number, now: number): number {
  return Math.max(1, Math.ceil((ms - now) / 1000));
}

export function denial(status: DenialStatus, type: string, message: string, retryAfterSeconds: number | null, headers: Record<string, string> = {}, param: string | null = null): Denial {
  return { ok: false, status, type, message, retryAfterSeconds, headers, param };
}

export interface WindowRefusal {
  type: string;
  /** What is limited, for the message: "request" or "token". */
  kind: "request" | "token";
  /** Whose limit: "virtual key", "provider config …", "ephemeral token". */
  where: string;
  used: number;
  max: number;
  duration: string;
  resetsAt: number;
  now: number;
  header: "requests" | "tokens";
  /** What this request would add (tokens), when it is more than one. */
  asked?: number;
  /** Held by requests in flight; when they alone stand in the way, the refusal says so and asks for a short wait. */
  inFlight?: number;
  /** Seconds until requests in flight free what this request needs; set when they alone stand in the way. */
  inFlightRetrySeconds?: number | undefined;
}

/** A 429 for a request or token window, with the headers clients use to back off. */
export function windowDenial(refusal: WindowRefusal): Denial {
  const { type, kind, where, used, max, duration, resetsAt, now, header, asked, inFlight = 0, inFlightRetrySeconds } = refusal;
  const resetSeconds = secondsUntil(resetsAt, now);
  const onlyInFlight = inFlightRetrySeconds !== undefined;
  const retryAfter = inFlightRetrySeconds ?? resetSeconds;
  const extra = asked === undefined ? "" : `, this request may use up to ${asked}`;
  const held = inFlight > 0 ? ` (${inFlight} of them held by requests in flight)` : "";
  const when = onlyInFlight ? `retry in ${retryAfter}s, once requests in flight have settled` : `resets in ${resetSeconds}s at ${iso(resetsAt)}`;
  return denial(429, type, `${kind} limit exceeded for ${where}: ${used + inFlight}/${max}${held}${extra} (window ${duration}, ${when})`, retryAfter, {
    [`x-ratelimit-limit-${header}`]: String(max),
    [`x-ratelimit-remaining-${header}`]: String(Math.max(0, max - used - inFlight)),
    [`x-ratelimit-reset-${header}`]: `${retryAfter}s`,
  });
}

/** What of a request that can never fit is too large: its prompt alone, its completion limit (or its number of choices) on top, or any request. */
export type Excess = "prompt" | "completion" | "choices" | "any";

const REMEDY: Record<Excess, string> = {
  prompt: "send less input (a shorter prompt or upload) or raise the limit",
  completion: "lower max_tokens or raise the limit",
  choices: "ask for fewer choices (n, best_of) or fewer tokens each, or raise the limit",
  any: "raise the limit",
};

/** A 400 for a request whose smallest form is larger than a limit's whole window: waiting can never help. */
export function neverFits(where: string, what: string, needed: string, limit: string, excess: Excess, completionParam: string | null): Denial {
  const message = `this request can never be admitted: it needs ${needed} but the ${what} of ${where} is ${limit} per window; ${REMEDY[excess]}`;
  return denial(400, "request_exceeds_limit", message, null, {}, excess === "completion" || excess === "choices" ? completionParam : null);
}
