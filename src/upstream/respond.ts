/**
 * Turns an origin answer into the client's response: errors normalised (including HTTP 200 bodies that carry an
 * error), the model name restored, SSE relayed event by event, binary bodies streamed through untouched.
 */
import { GatewayError } from "../http/errors";
import { isJsonObject } from "../http/body";
import type { Target } from "../routing/resolve";
import { errorPartsOf, originError } from "./errors";
import { modelRewrite, rewriteModelInJson } from "./model-rewrite";
import type { OriginCall } from "./origin";
import { SseRelay, type RelaySummary } from "./sse-relay";

/** Origin response headers worth passing on (vLLM's bytes-embedding layout and load report). */
const FORWARDED_HEADERS = ["metadata", "endpoint-load-metrics"];

export const SSE_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  // Keeps the runtime from compressing (and so buffering) the event stream.
  "content-encoding": "identity",
  "x-accel-buffering": "no",
};

function label(target: Target) {
  return { provider: target.provider.name, key: target.key.name };
}

function forwardedHeaders(from: Headers, contentType: string): Headers {
  const headers = new Headers({ "content-type": contentType });
  for (const name of FORWARDED_HEADERS) {
    const value = from.get(name);
    if (value !== null) headers.set(name, value);
  }
  return headers;
}

export function isEventStream(response: Response): boolean {
  return (response.headers.get("content-type") ?? "").toLowerCase().startsWith("text/event-stream");
}

function isJsonContent(response: Response): boolean {
  const type = (response.headers.get("content-type") ?? "").toLowerCase();
  return type === "" || type.includes("json");
}

async function readText(call: OriginCall): Promise<string> {
  try {
    return await call.response.text();
  } catch (thrown) {
    throw call.readFailure(thrown);
  } finally {
    call.stopTimer();
  }
}

/** Throws the normalised error for a non-2xx origin answer. */
export async function throwOriginError(call: OriginCall, target: Target): Promise<never> {
  const text = await readText(call);
  throw originError(call.response.status, text, label(target), call.response.headers.get("retry-after"));
}

export interface JsonAnswer {
  response: Response;
  /** The parsed body, for usage accounting. */
  body: Record<string, unknown>;
}

/** Reads a JSON answer, treats an embedded error as an error, and restores the client's model name. */
export async function relayJson(call: OriginCall, target: Target, publicModel: string): Promise<JsonAnswer> {
  if (!call.response.ok) return throwOriginError(call, target);
  const text = await readText(call);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new GatewayError(502, `origin for provider '${target.provider.name}' key '${target.key.name}' returned a body that is not JSON`, "invalid_upstream_response");
  }
  if (!isJsonObject(parsed)) {
    throw new GatewayError(502, `origin for provider '${target.provider.name}' key '${target.key.name}' returned JSON that is not an object`, "invalid_upstream_response");
  }
  if (errorPartsOf(parsed) && (parsed.error || parsed.object === "error")) {
    throw originError(call.response.status, text, label(target));
  }
  const rewrite = modelRewrite(target.upstreamModel, publicModel);
  const out = rewrite ? rewriteModelInJson(text, rewrite, () => parsed) : text;
  return { response: new Response(out, { status: 200, headers: forwardedHeaders(call.response.headers, "application/json") }), body: parsed };
}

/** Streams a non-JSON success body (bytes embeddings, text transcripts) through untouched. */
export function relayRaw(call: OriginCall): Response {
  call.stopTimer();
  const contentType = call.response.headers.get("content-type") ?? "application/octet-stream";
  return new Response(call.response.body, { status: call.response.status, headers: forwardedHeaders(call.response.headers, contentType) });
}

export interface StreamOptions {
  publicModel: string;
  dropUsageOnlyChunk: boolean;
  onEnd?(summary: RelaySummary): void;
}

/** Relays an SSE answer; a stream that opens with an error frame becomes an HTTP error instead. */
export async function relayStream(call: OriginCall, target: Target, options: StreamOptions): Promise<Response> {
  if (!call.response.ok) return throwOriginError(call, target);
  const body = call.response.body;
  if (!body) throw new GatewayError(502, `origin for provider '${target.provider.name}' returned an empty stream`, "stream_truncated");
  // The request timer covers time to headers; from here the stream idle timeout applies.
  call.stopTimer();
  const relay = new SseRelay(body, {
    servedModel: target.upstreamModel,
    publicModel: options.publicModel,
    dropUsageOnlyChunk: options.dropUsageOnlyChunk,
    idleTimeoutMs: target.provider.streamIdleTimeoutMs,
    abortUpstream: (reason) => call.abort(reason),
    onEnd: options.onEnd,
  });
  const firstError = await relay.open();
  if (firstError) {
    await relay.discard();
    throw originError(200, JSON.stringify({ error: firstError }), label(target));
  }
  return new Response(relay.stream, { status: 200, headers: SSE_HEADERS });
}

/** Picks the relay that fits what the origin actually sent. */
export async function relayAnswer(call: OriginCall, target: Target, options: StreamOptions): Promise<Response> {
  if (call.response.ok && isEventStream(call.response)) return relayStream(call, target, options);
  if (!call.response.ok || isJsonContent(call.response)) return (await relayJson(call, target, options.publicModel)).response;
  return relayRaw(call);
}
