/**
 * The rules of admission over one limiter's state: every limit a request counts against (token windows, budgets,
 * an ephemeral token's sub-budget) with the refusal each gives, request windows and concurrency. Pure functions of
 * what the limiter shows them (RuleView), so the limiter's single synchronous admission step reads as a list.
 */
import type { Allowance } from "./allowance";
import { windowEnd, windowSpec, type WindowSpec } from "./duration";
import { denial, iso, money, nanos, neverFits, secondsUntil, windowDenial, type Denial } from "./limiter-denials";
import type { Counter, Pending } from "./limiter-quota";
import { KEY_SCOPE, type AdmitRequest, type LimiterConfig, type TokenScope } from "./limits";

/** What the limiter shows the rules, at one instant. */
export interface RuleView {
  now: number;
  /** A counter's value in its current window. */
  counter(name: string, spec: WindowSpec): Counter;
  pending(scope: string): Pending;
  /** Nano-dollars an ephemeral token's requests in flight hold. */
  tokenInFlight(tokenId: string): number;
  inFlightRetrySeconds(): number;
  /** Tells the alerts a limit refused a request (answers nothing, so it can lead a `??` chain). */
  refused(name: string, spec: WindowSpec, counter: Counter): undefined;
}

/** One limit the request counts against, with what to answer when it does not fit. */
export interface Constraint {
  allowance: Allowance;
  never(): Denial;
  short(onlyInFlight: boolean): Denial;
}

/** An ephemeral token's sub-budget covers its whole life: a window that never rolls over. */
export const LIFETIME: WindowSpec = { durationMs: Number.MAX_SAFE_INTEGER, calendar: undefined };

function ownerOf(config: LimiterConfig, scope: string): string {
  return scope === KEY_SCOPE ? (config.owner ?? "virtual key") : `provider config ${scope}`;
}


/** Every token window and budget the request counts against, with the request's demand on each. */
export function constraintsFor(config: LimiterConfig, scopes: string[], request: AdmitRequest, asked: number, view: RuleView): Constraint[] {
  const now = view.now;
  const constraints: Constraint[] = [];
  // Several choices multiply the completion: then `n` (or best_of) is what to lower first.
  const manyChoices = request.choices > 1;
  const completionParam = manyChoices ? "n" : request.flexible ? null : "max_tokens";
  const completionExcess = manyChoices ? "choices" : "completion";
  const completionNeeded = request.flexible ? `a few completion tokens${manyChoices ? ` for each of ${request.choices} choices` : ""}` : `${asked} completion tokens${manyChoices ? ` (${request.completionTokens} for each of ${request.choices} choices)` : ""}`;
  // A request that uses no tokens at all (tokenize, count_tokens) is not held back by a token window, even one
  // that usage has pushed past its limit; its request windows still count it.
  const usesTokens = request.promptTokens > 0 || asked > 0;
  for (const scope of scopes) {
    for (const limit of config.rateLimits) {
      if (!usesTokens || limit.scope !== scope || limit.token_max_limit == null || !limit.token_reset_duration) continue;
      const { token_max_limit: max, token_reset_duration: duration } = limit;
      const spec = windowSpec(duration, limit.calendar_aligned);
      const counter = view.counter(`tokens:${scope}`, spec);
      const inFlight = view.pending(scope).tokens;
      const where = ownerOf(config, scope);
      constraints.push({
        allowance: { capacity: max, used: counter.usage, pending: inFlight, fixed: request.promptTokens, perToken: 1 },
        never: () => neverFits(where, `token limit (${duration} window)`, `about ${request.promptTokens} prompt tokens + ${completionNeeded}`, `${max} tokens`, request.promptTokens > max ? "prompt" : completionExcess, completionParam),
        short: (onlyInFlight) =>
          view.refused(`tokens:${scope}`, spec, counter) ??
          windowDenial({
            type: "token_limited", kind: "token", where, used: counter.usage, max, duration, resetsAt: windowEnd(spec, counter.start), now, header: "tokens",
            asked: request.promptTokens + asked, inFlight, inFlightRetrySeconds: onlyInFlight ? view.inFlightRetrySeconds() : undefined,
          }),
      });
    }
  }
  const priced = request.fixedNanos > 0 || request.nanosPerCompletionToken > 0;
  if (!priced) return constraints;
  const worst = (completion: number) => money(Math.ceil(request.fixedNanos + request.nanosPerCompletionToken * completion));
  for (const scope of scopes) {
    for (const budget of config.budgets) {
      if (budget.scope !== scope) continue;
      const spec = windowSpec(budget.reset_duration, budget.calendar_aligned);
      const counter = view.counter(`budget:${budget.id}`, spec);
      const inFlight = view.pending(scope).cost;
      const capacity = nanos(budget.max_limit);
      const where = ownerOf(config, scope);
      const resetsAt = windowEnd(spec, counter.start);
      constraints.push({
        allowance: { capacity, used: counter.usage, pending: inFlight, fixed: request.fixedNanos, perToken: request.nanosPerCompletionToken },
        never: () => neverFits(where, `budget (${budget.reset_duration})`, `up to ${worst(asked)}${manyChoices ? ` for ${request.choices} choices` : ""}`, money(capacity), request.fixedNanos > capacity ? "prompt" : completionExcess, completionParam),
        short: (onlyInFlight) =>
          view.refused(`budget:${budget.id}`, spec, counter) ??
          denial(
            402,
            "budget_exceeded",
            `budget exceeded: ${where} budget ${money(counter.usage)} spent + ${money(inFlight)} held by requests in flight + up to ${worst(asked)} for this request > ${money(capacity)} (resets every ${budget.reset_duration}, next at ${iso(resetsAt)})`,
            onlyInFlight ? view.inFlightRetrySeconds() : secondsUntil(resetsAt, now),
          ),
      });
    }
  }
  const token = request.token;
  if (token?.budget !== undefined) {
    const inFlight = view.tokenInFlight(token.id);
    const used = view.counter(`token-budget:${token.id}`, LIFETIME).usage;
    const capacity = nanos(token.budget);
    constraints.push({
      allowance: { capacity, used, pending: inFlight, fixed: request.fixedNanos, perToken: request.nanosPerCompletionToken },
      never: () => neverFits("this ephemeral token", "budget", `up to ${worst(asked)}`, money(capacity), request.fixedNanos > capacity ? "prompt" : "completion", completionParam),
      short: (onlyInFlight) =>
        denial(402, "budget_exceeded", `ephemeral token budget exhausted: ${money(used)} spent + ${money(inFlight)} in flight + up to ${worst(asked)} for this request > ${money(capacity)}`, onlyInFlight ? view.inFlightRetrySeconds() : null),
    });
  }
  return constraints;
}

/** Request-count windows: the key's, its provider config's, and the ephemeral token's. */
export function checkRequestWindows(config: LimiterConfig, scopes: string[], token: TokenScope | undefined, view: RuleView): Denial | null {
  const now = view.now;
  for (const scope of scopes) {
    for (const limit of config.rateLimits) {
      if (limit.scope !== scope || limit.request_max_limit == null || !limit.request_reset_duration) continue;
      const where = ownerOf(config, scope);
      if (limit.request_max_limit === 0) return neverFits(where, `request limit (${limit.request_reset_duration} window)`, "1 request", "0 requests", "any", null);
      const spec = windowSpec(limit.request_reset_duration, limit.calendar_aligned);
      const counter = view.counter(`requests:${scope}`, spec);
      // Requests leases may still admit count as made: they are reported once admitted.
      const used = counter.usage + view.pending(scope).requests;
      if (used + 1 > limit.request_max_limit) {
        view.refused(`requests:${scope}`, spec, counter);
        return windowDenial({ type: "request_limited", kind: "request", where, used, max: limit.request_max_limit, duration: limit.request_reset_duration, resetsAt: windowEnd(spec, counter.start), now, header: "requests" });
      }
    }
  }
  if (token?.rate) {
    const spec = windowSpec(token.rate.window, false);
    const counter = view.counter(`token-requests:${token.id}`, spec);
    if (counter.usage + 1 > token.rate.max) {
      return windowDenial({ type: "request_limited", kind: "request", where: "ephemeral token", used: counter.usage, max: token.rate.max, duration: token.rate.window, resetsAt: windowEnd(spec, counter.start), now, header: "requests" });
    }
  }
  return null;
}

export function checkConcurrency(config: LimiterConfig, view: RuleView): Denial | null {
  if (config.maxConcurrent === null) return null;
  const inFlight = view.pending(KEY_SCOPE).count;
  if (inFlight < config.maxConcurrent) return null;
  return denial(429, "concurrency_limited", `concurrency limit reached: ${inFlight}/${config.maxConcurrent} requests in flight`, view.inFlightRetrySeconds(), {
    "x-ratelimit-limit-concurrency": String(config.maxConcurrent),
    "x-ratelimit-remaining-concurrency": "0",
  });
}
