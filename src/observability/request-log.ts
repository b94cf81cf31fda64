/**
 * Records every inference request: the middleware gives the request a trace that the request path fills in
 * (governed.ts: key, provider, origin, attempts, usage) and, once the response has finished — a stream's end —
 * queues one log row. Prompts and completions are kept only with LOG_PAYLOADS=true.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { waitUntilOf } from "../http/context";
import { timeOrderedId } from "../http/time-ordered-id";
import type { LogRow, RequestTrace, TraceOutcome } from "./log-row";
import { enqueueLogRow } from "./log-writer";
import { settingsOf } from "../settings";
import { beginRequestSpan } from "../telemetry/spans";

const PAYLOAD_LIMIT = 64 * 1024;

/** The endpoint without its drop-in prefix: /openai/v1/chat/completions → chat/completions. */
function endpointOf(path: string): string {
  return path.replace(/^\/(openai|vllm|anthropic)(?=\/)/, "").replace(/^\/v1\//, "").replace(/^\//, "");
}

/** Endpoints by path, remembered for the paths routes serve (a bounded number: unknown paths are not remembered). */
const endpoints = new Map<string, string>();
const REMEMBERED_PATHS = 256;

function endpointFor(path: string): string {
  let endpoint = endpoints.get(path);
  if (endpoint === undefined) {
    endpoint = endpointOf(path);
    if (endpoints.size < REMEMBERED_PATHS) endpoints.set(path, endpoint);
  }
  return endpoint;
}

export function payloadLoggingOn(env: AppEnv["Bindings"]): boolean {
  return settingsOf(env).LOG_PAYLOADS;
}

export function truncatePayload(text: string): string {
  return text.length > PAYLOAD_LIMIT ? `${text.slice(0, PAYLOAD_LIMIT)}…` : text;
}

/** The served model when configuration named it or the origin accepted it (a 2xx); anything else is one value. */
function metricModel(trace: RequestTrace, status: number): string {
  const known = trace.servedModel !== undefined && trace.provider !== undefined && (trace.servedModelConfigured === true || status < 400);
  return known ? `${trace.provider}/${trace.servedModel}` : "other";
}

export const requestLog: MiddlewareHandler<AppEnv> = async (c, next) => {
  // Inference is POST; reads and deletes of stored responses are not inference requests.
  if (c.req.method !== "POST") return next();
  const started = Date.now();
  const trace: RequestTrace = {};
  c.set("trace", trace);
  // The request's trace span, when traces are exported; it ends with the log row and from the same facts.
  const span = beginRequestSpan(settingsOf(c.env), c.req.raw.headers);
  if (span) c.set("requestSpan", span);
  await next();
  // Refused before the pipeline named it (an upload too large, say): the key that authenticated still owns the row.
  const principal = c.get("principal");
  if (trace.virtualKey === undefined && principal) trace.virtualKey = { id: principal.vk.id, name: principal.vk.name };
  const status = c.res.status;
  const stream = trace.stream === true || (c.res.headers.get("content-type") ?? "").startsWith("text/event-stream");
  const outcome: Promise<TraceOutcome | undefined> = trace.outcome ?? Promise.resolve(undefined);
  const env = c.env;
  const waitUntil = waitUntilOf(c);
  const requestId = c.get("requestId");
  const endpoint = endpointFor(c.req.path);
  // A request id the gateway made is already unique and time-ordered: the row keeps it as its id. One a client sent
  // (which another request may repeat) gets a new one, so no client can overwrite or erase a row.
  const ownId = requestId !== c.req.header("x-request-id");
  waitUntil(
    outcome.then((result) => {
      const ended = Date.now();
      const row: LogRow = {
        id: ownId ? requestId : timeOrderedId(started),
        request_id: requestId,
        ts: started,
        virtual_key_id: trace.virtualKey?.id ?? null,
        virtual_key_name: trace.virtualKey?.name ?? null,
        provider: trace.provider ?? null,
        provider_key: trace.providerKey ?? null,
        origin: trace.origin ?? null,
        model: trace.model ?? null,
        endpoint,
        stream,
        status,
        error_code: trace.errorCode ?? result?.errorCode ?? null,
        prompt_tokens: result?.promptTokens ?? 0,
        completion_tokens: result?.completionTokens ?? 0,
        cost: result?.cost ?? 0,
        latency_ms: ended - started,
        ttft_ms: stream && result?.firstTokenAt !== undefined ? result.firstTokenAt - started : null,
        attempts: trace.attempts ?? 0,
        fallback_index: trace.fallbackIndex ?? 0,
        cache_hit: trace.cacheHit === true,
        request_body: trace.requestBody ?? null,
        response_body: payloadLoggingOn(env) && result?.responseBody !== undefined ? truncatePayload(result.responseBody) : null,
        metric_model: metricModel(trace, status),
      };
      enqueueLogRow(env, row, waitUntil);
      span?.end(c.req.path, row, result, waitUntil);
    }),
  );
};
