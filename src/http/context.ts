/** Small accessors over Hono's context that every endpoint needs. */
import type { Context } from "hono";
import type { AppEnv } from "../env";
import { settingsOf } from "../settings";
import { timeOrderedId } from "./time-ordered-id";

export type AppContext = Context<AppEnv>;

/** `ctx.waitUntil` when running in a Worker invocation; a no-op when there is none (unit-level calls). */
export function waitUntilOf(c: AppContext): (promise: Promise<unknown>) => void {
  try {
    const ctx = c.executionCtx;
    return (promise) => ctx.waitUntil(promise);
  } catch {
    return () => undefined;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's X-Request-Id when it is sane, else a fresh time-ordered one; forwarded to vLLM so logs correlate. */
export function requestIdFor(request: Request): string {
  const incoming = request.headers.get("x-request-id");
  return incoming && REQUEST_ID.test(incoming) ? incoming : timeOrderedId();
}

/** How long a stream may be silent toward the client before it gets a `: keep-alive` comment (SSE_KEEPALIVE_SECONDS). */
export function sseKeepAliveMs(c: AppContext): number {
  return settingsOf(c.env).SSE_KEEPALIVE_SECONDS * 1000;
}
