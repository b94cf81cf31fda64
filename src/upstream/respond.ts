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
import { renameReasoningInJson, type ReasoningField } from "./reasoning-field";
import { SseRelay, type StreamUsage } from "./sse-relay";
import type { StreamConverter } from "./stream-converter";

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

export function forwardedHeaders(from: Headers, contentType: string): Record<string, string> {
  const headers: Record<string, string> = { "content-type": contentType };
  for (const name of FORWARDED_HEADERS) {
    const value = from.get(name);
    if (value !== null) headers[name] = value;
  }
  return headers;
}

export function isEventStream(response: Response): boolean {
  return (response.headers.get("content-type") ?? "").toLowerCase().startsWith("text/event-stream");
}

export function isJsonContent(response: Response): boolean {
  const type = (response.headers.get("content-type") ?? "").toLowerCase();
  return type === "" || type.includes("json");
}

/** The answer's whole body, a read failure mapped to the client's error; the request timer stops either way. */
export async function readText(call: OriginCall): Promise<string> {
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

/** Tokens a request used, as reported by the origin or — when the origin never said — estimated. */
export interface UsageReport {
  promptTokens: number;
  completionTokens: number;
  estimated: boolean;
  /** The origin's answer carried no usage at all: the request is charged what was reserved. */
  unreported?: boolean;
  /** Seconds of audio the origin reported transcribing (priced per second). */
  audioSeconds?: number | undefined;
  /** The origin broke the stream (error frame, cut, idle) — a failure for its health, whatever was delivered. */
  originFailed?: boolean;
  /** Why the answer failed after it started: the error frame's code, or how the stream broke. */
  failureCode?: string | undefined;
  /** When a stream's first event arrived, ms since the epoch. */
  firstTokenAt?: number | undefined;
  /** A JSON answer's body as the origin sent it (kept in logs only with LOG_PAYLOADS=true). */
  responseBody?: string | undefined;
}

export const NO_USAGE: UsageReport = { promptTokens: 0, completionTokens: 0, estimated: false };
/** A stream that ended before delivering any event: nothing generated reached anyone. */
const NOTHING_DELIVERED: UsageReport = { promptTokens: 0, completionTokens: 0, estimated: true };
const UNREPORTED: UsageReport = { promptTokens: 0, completionTokens: 0, estimated: true, unreported: true };

/** The client's response, and the usage it turns out to carry (known once a stream has ended). */
export interface Answer {
  response: Response;
  usage: Promise<UsageReport>;
  /** A stream holds its final event until `until` settles (absent: the body is complete as it is). */
  holdEnd?(until: Promise<unknown>): void;
}

export interface JsonAnswer extends Answer {
  /** The parsed body. */
  body: Record<string, unknown>;
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : 0;
}

/**
 * Reads an OpenAI `usage` object: prompt/completion tokens (input/output tokens from some servers), and the
 * transcription shapes — `{type:"duration", seconds}` or `{type:"tokens", input_tokens, output_tokens}`.
 */
export function usageOf(usage: unknown): UsageReport | null {
  if (typeof usage !== "object" || usage === null) return null;
  const u = usage as StreamUsage & { input_tokens?: number; output_tokens?: number; type?: unknown; seconds?: number };
  const prompt = count(u.prompt_tokens) || count(u.input_tokens);
  const completion = count(u.completion_tokens) || count(u.output_tokens);
  const total = count(u.total_tokens);
  const report: UsageReport = { promptTokens: prompt || Math.max(0, total - completion), completionTokens: completion, estimated: false };
  if (u.type === "duration") report.audioSeconds = count(u.seconds);
  return report;
}

/**
 * Reads a JSON answer, treats an embedded error as an error, and restores the client's model name — and, when
 * `reasoningField` names one, the reasoning field's name chat clients get. `body` stays as the origin sent it.
 */
export async function relayJson(call: OriginCall, target: Target, publicModel: string, reasoningField?: ReasoningField): Promise<JsonAnswer> {
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
  const modelNamed = rewrite ? rewriteModelInJson(text, rewrite, () => parsed) : text;
  const out = reasoningField ? renameReasoningInJson(modelNamed, reasoningField, () => (modelNamed === text ? parsed : JSON.parse(modelNamed))) : modelNamed;
  return {
    response: new Response(out, { status: 200, headers: forwardedHeaders(call.response.headers, "application/json") }),
    body: parsed,
    usage: Promise.resolve({ ...(usageOf(parsed.usage) ?? UNREPORTED), responseBody: out }),
  };
}

/** Content types a browser would run or render as a page: never served from the gateway's own origin. */
const ACTIVE_CONTENT = /^\s*(text\/html|application\/xhtml|image\/svg|text\/xml|application\/xml|text\/javascript|application\/javascript)/i;

/**
 * Streams a non-JSON success body (bytes embeddings, text transcripts) through untouched — but never a page: an
 * inference endpoint that answers HTML is a login page or an error page in front of the engine, not an answer.
 */
export async function relayRaw(call: OriginCall, target: Target): Promise<Answer> {
  call.stopTimer();
  const contentType = call.response.headers.get("content-type") ?? "application/octet-stream";
  if (ACTIVE_CONTENT.test(contentType)) {
    await call.response.body?.cancel().catch(() => undefined);
    throw new GatewayError(502, `origin for provider '${target.provider.name}' key '${target.key.name}' answered with ${contentType.split(";")[0]}, not an API answer`, "invalid_upstream_response");
  }
  // vLLM's bytes embeddings describe themselves, usage included, in a `metadata` header.
  let usage: UsageReport | null = null;
  try {
    const metadata: unknown = JSON.parse(call.response.headers.get("metadata") ?? "null");
    usage = isJsonObject(metadata) ? usageOf(metadata.usage) : null;
  } catch {
    usage = null;
  }
  const headers = forwardedHeaders(call.response.headers, contentType);
  headers["x-content-type-options"] = "nosniff";
  return {
    response: new Response(call.response.body, { status: call.response.status, headers }),
    usage: Promise.resolve(usage ?? UNREPORTED),
  };
}

export interface StreamOptions {
  publicModel: string;
  dropUsageOnlyChunk: boolean;
  /** Prompt tokens to account when a stream ends before the origin reported usage. */
  promptEstimate: number;
  /** Re-expresses the chat stream in another API's events (Responses, Anthropic Messages). */
  converter?: StreamConverter;
  /** The reasoning field's name chat clients get (undefined: as the origin sent it). */
  reasoningField?: ReasoningField | undefined;
  /** Silence toward the client before a `: keep-alive` comment (SSE_KEEPALIVE_SECONDS). */
  keepAliveMs: number;
}

/** Relays an SSE answer; a stream that opens with an error frame becomes an HTTP error instead. */
export async function relayStream(call: OriginCall, target: Target, options: StreamOptions): Promise<Answer> {
  if (!call.response.ok) return throwOriginError(call, target);
  const body = call.response.body;
  if (!body) throw new GatewayError(502, `origin for provider '${target.provider.name}' returned an empty stream`, "stream_truncated");
  // The request timer covers time to headers; from here the stream idle timeout applies.
  call.stopTimer();
  let reportUsage: (usage: UsageReport) => void = () => undefined;
  const usage = new Promise<UsageReport>((resolve) => (reportUsage = resolve));
  const relay = new SseRelay(body, {
    servedModel: target.upstreamModel,
    publicModel: options.publicModel,
    dropUsageOnlyChunk: options.dropUsageOnlyChunk,
    idleTimeoutMs: target.provider.streamIdleTimeoutMs,
    keepAliveMs: options.keepAliveMs,
    abortUpstream: (reason) => call.abort(reason),
    converter: options.converter,
    // A converter reads both spellings itself; a chat stream is renamed only when asked.
    reasoningField: options.converter ? undefined : options.reasoningField,
    // A stream cut short (client gone, origin died) never sends its usage chunk: charge what was delivered,
    // counting one token per content event, so a disconnect never buys free tokens. One that delivered no event at
    // all failed before its answer began, like a JSON request that timed out: it costs nothing.
    onEnd: (summary) =>
      reportUsage({
        ...(usageOf(summary.usage) ??
          (summary.dataEvents === 0 ? NOTHING_DELIVERED : { promptTokens: options.promptEstimate, completionTokens: summary.dataEvents, estimated: true })),
        originFailed: summary.outcome !== "completed" && summary.outcome !== "client_cancelled",
        failureCode: summary.failureCode,
        firstTokenAt: summary.firstEventAt,
      }),
  });
  const firstError = await relay.open();
  if (firstError) {
    await relay.discard();
    if (firstError.invalid) throw new GatewayError(502, `origin for provider '${target.provider.name}' key '${target.key.name}' ${firstError.message}`, "invalid_upstream_response");
    throw originError(200, JSON.stringify({ error: firstError }), label(target));
  }
  return { response: new Response(relay.stream, { status: 200, headers: SSE_HEADERS }), usage, holdEnd: (until) => relay.holdEnd(until) };
}

/** Picks the relay that fits what the origin actually sent. */
export async function relayAnswer(call: OriginCall, target: Target, options: StreamOptions): Promise<Answer> {
  if (call.response.ok && isEventStream(call.response)) return relayStream(call, target, options);
  if (!call.response.ok || isJsonContent(call.response)) return relayJson(call, target, options.publicModel, options.reasoningField);
  return relayRaw(call, target);
}
