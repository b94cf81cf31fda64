/** What every step of one inference request may need from its invocation, as plain values taken once. */
import type { Env } from "../env";
import type { Settings } from "../settings";
import type { Tracing } from "../telemetry/spans";

export interface RequestScope {
  env: Env;
  settings: Settings;
  requestId: string;
  /** The client's request signal: aborted when the client goes away. */
  signal: AbortSignal;
  waitUntil: (promise: Promise<unknown>) => void;
  /** The request's trace: a span per origin attempt, or the caller's traceparent passed on. */
  tracing: Tracing;
}
