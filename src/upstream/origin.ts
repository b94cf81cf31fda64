/**
 * The one place that talks to origins. It sets the key's credentials (never the client's), Access service-token
 * headers and extra headers; never follows redirects; and ties the fetch to a timeout. A client's disconnect needs
 * no signal of ours: the runtime cancels the subrequests of a request whose client went away (the fetch, and a
 * stream's body through the relay that reads it), so vLLM sees the connection close and stops generating
 * (disconnect.test.ts, streams.test.ts). Joining the client's signal to the timer's (AbortSignal.any) would add one
 * native signal per request, and with it length to the full garbage collections that finalize them.
 */
import { CLIENT_CLOSED } from "../observability/log-row";
import { GatewayError } from "../http/errors";
import type { Target } from "../routing/resolve";
import { resolveSecret, unresolved } from "./secrets";
import type { OriginTrace } from "../telemetry/spans";

export type PathKey = "list_models" | "text_completion" | "chat_completion" | "embedding" | "rerank" | "transcription" | "count_tokens" | "tokenize" | "detokenize" | "score" | "classify" | "pooling";

export interface OriginRequest {
  target: Target;
  /** Default upstream path, e.g. /v1/chat/completions. */
  path: string;
  /** Names the request type whose custom_provider_config.request_path_overrides entry replaces `path`. */
  pathKey: PathKey;
  method: "GET" | "POST";
  body?: BodyInit | null;
  contentType?: string;
  stream?: boolean;
  requestId: string;
  /** Read to tell a client that left (499) from an origin that failed. */
  clientSignal?: AbortSignal | undefined;
  /** Overrides the provider's request timeout (model listing uses a shorter one). */
  timeoutMs?: number;
  /** The trace context the origin gets (vLLM continues a `traceparent`), and the span watching its answer. */
  trace?: OriginTrace | undefined;
}

export interface OriginCall {
  response: Response;
  /** Stops the request timer: once the body is fully read, or once a stream has started. */
  stopTimer(): void;
  /** Aborts the origin fetch (and its body); vLLM sees the connection close and stops generating. */
  abort(reason: string): void;
  /** Maps a failure while reading the body to the right client error. */
  readFailure(thrown: unknown): GatewayError;
}

/** Why the gateway stopped waiting: the setting that ran out, and after how long. */
class OriginTimeout extends Error {
  constructor(
    readonly setting: string,
    readonly ms: number,
  ) {
    super(`${setting} ran out`);
  }
}

export function originLabel(target: Target): string {
  return `provider '${target.provider.name}' key '${target.key.name}'`;
}

export function originUrl(target: Target, env: object, path: string, pathKey: PathKey): string {
  const base = resolveSecret(target.key.originUrl, env, `origin URL of ${originLabel(target)}`).replace(/\/+$/, "");
  const override = target.provider.pathOverrides[pathKey];
  if (override === undefined) return base + path;
  return override.startsWith("/") ? base + override : override;
}

/** A plain record, not a Headers object: fetch builds its own Headers from it either way, so this spares one. */
function originHeaders(request: OriginRequest, env: object): Record<string, string> {
  const { target } = request;
  const headers: Record<string, string> = {};
  // Header names are case-insensitive: lower-cased, so a configured one replaces the gateway's own rather than joining it.
  for (const [name, value] of target.provider.extraHeaders) headers[name.toLowerCase()] = resolveSecret(value, env, `extra header ${name} of provider '${target.provider.name}'`);
  if (request.contentType) headers["content-type"] = request.contentType;
  headers.accept = request.stream ? "text/event-stream" : "application/json";
  // Compressed SSE can sit in an encoder's buffer; streams travel uncompressed.
  if (request.stream) headers["accept-encoding"] = "identity";
  headers["x-request-id"] = request.requestId;
  if (request.trace?.traceparent !== undefined) {
    headers.traceparent = request.trace.traceparent;
    if (request.trace.tracestate !== undefined) headers.tracestate = request.trace.tracestate;
  }
  const value = resolveSecret(target.key.value, env, `value of ${originLabel(target)}`);
  if (value !== "") headers.authorization = `Bearer ${value}`;
  if (target.key.access) {
    headers["cf-access-client-id"] = resolveSecret(target.key.access.clientId, env, `Access client id of ${originLabel(target)}`);
    headers["cf-access-client-secret"] = resolveSecret(target.key.access.clientSecret, env, `Access client secret of ${originLabel(target)}`);
  }
  return headers;
}

/**
 * How this key reaches its origin: the global fetch, or a Workers VPC service binding (private network through a
 * tunnel; the URL's host then only names the service, the route comes from the binding).
 */
function fetcherFor(target: Target, env: object): (url: string, init: RequestInit) => Promise<Response> {
  const name = target.key.vpcBinding;
  if (name === undefined) return (url, init) => fetch(url, init);
  const binding: unknown = (env as Record<string, unknown>)[name];
  if (typeof binding !== "object" || binding === null || typeof (binding as Fetcher).fetch !== "function") {
    throw unresolved(originLabel(target), `uses the binding ${name}, which the gateway does not have`);
  }
  return (url, init) => (binding as Fetcher).fetch(url, init);
}

export async function callOrigin(request: OriginRequest, env: object): Promise<OriginCall> {
  const { target } = request;
  const url = originUrl(target, env, request.path, request.pathKey);
  const headers = originHeaders(request, env);
  const send = fetcherFor(target, env);
  const timeoutMs = request.timeoutMs ?? target.provider.timeoutMs;
  const firstByteMs = Math.min(timeoutMs, target.provider.firstByteTimeoutMs);
  const controller = new AbortController();
  // Two clocks — the whole answer (a stream: until it starts), and, often shorter, until the origin starts it — on one
  // timer, since a timer is one of the dearer things a request does: it fires at the first-byte deadline and, if the
  // answer has started by then, waits out the rest of the whole one.
  const firstByteFirst = firstByteMs < timeoutMs;
  let started = false;
  const giveUp = (setting: string, ms: number) => controller.abort(new OriginTimeout(`network_config.${setting}`, ms));
  let timer = setTimeout(
    firstByteFirst
      ? () => {
          if (!started) giveUp("first_byte_timeout_in_seconds", firstByteMs);
          else timer = setTimeout(() => giveUp("default_request_timeout_in_seconds", timeoutMs), timeoutMs - firstByteMs);
        }
      : () => giveUp("default_request_timeout_in_seconds", timeoutMs),
    firstByteFirst ? firstByteMs : timeoutMs,
  );
  const signal = controller.signal;

  const failure = (thrown: unknown): GatewayError => {
    if (thrown instanceof GatewayError) return thrown;
    const reason: unknown = controller.signal.reason;
    if (reason instanceof OriginTimeout) {
      const waited = reason.setting.endsWith("first_byte_timeout_in_seconds") ? "did not start its answer" : "did not answer";
      return new GatewayError(504, `origin for ${originLabel(target)} ${waited} within ${reason.ms / 1000} s (${reason.setting})`, "request_timed_out");
    }
    if (request.clientSignal?.aborted) return new GatewayError(499, "client closed the request", CLIENT_CLOSED);
    const detail = thrown instanceof Error ? thrown.message : String(thrown);
    return new GatewayError(502, `origin for ${originLabel(target)} is unreachable: ${detail}`, "upstream_unreachable");
  };

  let response: Response;
  try {
    response = await send(url, { method: request.method, headers, body: request.body ?? null, redirect: "manual", signal });
    if (request.trace?.answered) response = request.trace.answered(response);
  } catch (thrown) {
    clearTimeout(timer);
    throw failure(thrown);
  }
  started = true;
  if (response.status >= 300 && response.status < 400) {
    clearTimeout(timer);
    controller.abort("redirect");
    const location = response.headers.get("location") ?? "";
    const host = URL.canParse(location) ? new URL(location).host : location.slice(0, 200);
    throw new GatewayError(
      502,
      `origin for ${originLabel(target)} answered with a redirect (HTTP ${response.status} to ${host || "an unnamed location"}); ` +
        "redirects are not followed — check the origin URL and, behind Cloudflare Access, the key's service token",
      "upstream_redirect",
    );
  }
  return {
    response,
    stopTimer: () => clearTimeout(timer),
    abort: (reason) => {
      clearTimeout(timer);
      controller.abort(reason);
    },
    readFailure: failure,
  };
}
