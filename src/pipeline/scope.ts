/** What every step of one inference request may need from its invocation, as plain values taken once. */
import type { Env } from "../env";
import type { Settings } from "../settings";

export interface RequestScope {
  env: Env;
  settings: Settings;
  requestId: string;
  /** The client's request signal: aborted when the client goes away. */
  signal: AbortSignal;
  waitUntil: (promise: Promise<unknown>) => void;
}
