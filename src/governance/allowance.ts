/**
 * The arithmetic of one limit against one request, in the limit's own unit (tokens, or nano-dollars for budgets):
 * does the request fit, and how many completion tokens can it be granted. Pure, so the Durable Object's single
 * synchronous admission step stays readable and the edge cases are unit-tested apart from it.
 */

export interface Allowance {
  /** The limit's whole size per window. */
  capacity: number;
  /** Settled usage in the current window. */
  used: number;
  /** Held by requests still in flight. */
  pending: number;
  /** What the request costs whatever it generates (its prompt). */
  fixed: number;
  /** What each completion token costs. */
  perToken: number;
}

export type Fit =
  /** Even an empty window could not hold the request's smallest form: it can never be admitted. */
  | { kind: "never" }
  /** Not now: `onlyInFlight` when it would fit but for requests still in flight (they settle within seconds). */
  | { kind: "short"; onlyInFlight: boolean }
  /** Fits with up to `maxCompletion` completion tokens in all. */
  | { kind: "fits"; maxCompletion: number };

/** How a request needing at least `minCompletion` completion tokens (over all its choices) fits a limit. */
export function fitAllowance(allowance: Allowance, minCompletion: number): Fit {
  const { capacity, used, pending, fixed, perToken } = allowance;
  const smallest = fixed + perToken * minCompletion;
  if (smallest > capacity) return { kind: "never" };
  const room = capacity - used - pending - fixed;
  const maxCompletion = room < 0 ? -1 : perToken > 0 ? Math.floor(room / perToken) : Number.POSITIVE_INFINITY;
  if (maxCompletion < minCompletion) return { kind: "short", onlyInFlight: used + smallest <= capacity };
  return { kind: "fits", maxCompletion };
}
