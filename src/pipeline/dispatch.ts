/**
 * Step 5 of an inference request: tries a chain's targets until one answers — retries on connection errors and
 * retryable statuses (429/5xx) with jittered exponential backoff, moving to the next key when there is one. Retries
 * happen only before the client has received anything: an attempt that returned an answer is final.
 */
import { GatewayError } from "../http/errors";
import type { HealthSettings } from "../routing/health";
import type { Target } from "../routing/resolve";
import type { Answer } from "../upstream/respond";
import { attemptTarget, type Grant } from "./attempt";
import type { UpstreamPlan } from "./plan";
import type { RequestScope } from "./scope";

export interface Dispatched {
  answer: Answer;
  target: Target;
  attempts: number;
}

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
const FINAL_CODES = new Set(["client_closed_request", "provider_config_unresolved", "upstream_redirect", "upstream_auth_failed"]);

/** How many attempts a dispatch that failed made before giving up with this error. */
const attemptsBehind = new WeakMap<object, number>();

export function attemptsOf(error: unknown): number {
  return typeof error === "object" && error !== null ? (attemptsBehind.get(error) ?? 0) : 0;
}

export function isRetryable(error: unknown): boolean {
  return error instanceof GatewayError && RETRYABLE_STATUS.has(error.status) && !FINAL_CODES.has(error.code ?? "");
}

export function backoffMs(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const base = Math.min(initialMs * 2 ** attempt, maxMs);
  return Math.round(base * (0.8 + random() * 0.4));
}

function retryAfterMs(error: GatewayError, maxMs: number): number | undefined {
  const header = error.headers["retry-after"];
  if (header === undefined) return undefined;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds * 1000, maxMs) : undefined;
}

export interface DispatchRequest {
  upstream: UpstreamPlan;
  /** The targets in the order to try them. */
  targets: readonly Target[];
  publicModel: string;
  grant: Grant;
  promptEstimate: number;
  /** Caps retries below the provider's max_retries (0 for bodies that can be sent only once). */
  retryCap: number;
  health: HealthSettings;
}

export async function dispatchTargets(scope: RequestScope, request: DispatchRequest): Promise<Dispatched> {
  const { targets } = request;
  const first = targets[0];
  if (!first) throw new GatewayError(503, "no origin is available for this request", "no_target");
  const { backoffInitialMs, backoffMaxMs } = first.provider;
  const maxRetries = Math.min(first.provider.maxRetries, request.retryCap);
  let lastError: unknown;
  let attempts = 0;
  for (let attemptIndex = 0; attemptIndex <= maxRetries; attemptIndex += 1) {
    attempts += 1;
    const target = targets[attemptIndex % targets.length] ?? first;
    try {
      const answer = await attemptTarget(scope, request.upstream, target, request.publicModel, request.grant, request.promptEstimate, request.health);
      return { answer, target, attempts: attemptIndex + 1 };
    } catch (error) {
      lastError = error;
      if (attemptIndex === maxRetries || !isRetryable(error) || scope.signal.aborted) break;
      const wait = retryAfterMs(error as GatewayError, backoffMaxMs) ?? backoffMs(attemptIndex, backoffInitialMs, backoffMaxMs);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
  if (typeof lastError === "object" && lastError !== null) attemptsBehind.set(lastError, attempts);
  throw lastError;
}
