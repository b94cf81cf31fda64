/**
 * Chat completions, text completions and embeddings: parse the body once, validate only the fields the gateway
 * acts on, route, and forward everything else untouched.
 */
import * as z from "zod/mini";
import type { RequestType } from "../config/schema";
import { parseOrThrow } from "../config/validation";
import { streamedJsonFor, type StreamShape } from "../convert/assembly";
import { reasoningFieldRequested } from "../convert/chat-reasoning";
import { mebibytes, readJsonObject, type JsonObject } from "../http/body";
import type { AppContext } from "../http/context";
import { badRequest } from "../http/errors";
import { fallbackModels, modelField, ownCompletionLimit } from "../http/request-fields";
import { inputOnly, type TokenEstimate } from "../governance/admission";
import { estimatePromptTokens } from "../governance/prompt-estimate";
import type { PathKey } from "../upstream/origin";
import { payloadLoggingOn, truncatePayload } from "../observability/request-log";
import { runInference } from "../pipeline/inference";
import { REASONING_FIELD_HEADER } from "../upstream/reasoning-field";
import { traceOf } from "../pipeline/trace";
import { settingsOf } from "../settings";

export interface JsonEndpoint {
  requestType: RequestType;
  /** The request type when `stream: true`; undefined for endpoints that cannot stream. */
  streamRequestType?: RequestType;
  path: string;
  pathKey: PathKey;
  /** Completion tokens the origin generates when the request sets no limit (vLLM's default for completions). */
  defaultMaxTokens?: number;
  /** The endpoint generates no tokens (embeddings). */
  generates: boolean;
  /** The shape of the endpoint's stream, for JSON requests a provider may stream and assemble (stream_for_json). */
  streamShape?: StreamShape;
}

export const CHAT: JsonEndpoint = {
  requestType: "chat_completion",
  streamRequestType: "chat_completion_stream",
  path: "/v1/chat/completions",
  pathKey: "chat_completion",
  generates: true,
  streamShape: "chat",
};
export const COMPLETIONS: JsonEndpoint = {
  requestType: "text_completion",
  streamRequestType: "text_completion_stream",
  path: "/v1/completions",
  pathKey: "text_completion",
  defaultMaxTokens: 16,
  generates: true,
  streamShape: "text",
};
export const EMBEDDINGS: JsonEndpoint = { requestType: "embedding", path: "/v1/embeddings", pathKey: "embedding", generates: false };

const tokenCount = z.nullish(z.int().check(z.gte(0)));

/** Only the fields the gateway acts on; every other field is the origin's business. */
const gatewayFields = z.looseObject({
  model: modelField,
  stream: z.nullish(z.boolean()),
  stream_options: z.nullish(z.looseObject({ include_usage: z.nullish(z.boolean()) })),
  max_tokens: tokenCount,
  max_completion_tokens: tokenCount,
  n: z.nullish(z.int().check(z.gte(1))),
  best_of: z.nullish(z.int().check(z.gte(1))),
  fallbacks: fallbackModels,
});

type GatewayFields = z.infer<typeof gatewayFields>;

export function requestBodyLimit(c: AppContext): number {
  return mebibytes(settingsOf(c.env).MAX_REQUEST_BODY_MB);
}

/** The completion tokens per choice reserved for a request that sets no limit of its own. */
export function defaultCompletionTokens(c: AppContext): number {
  return settingsOf(c.env).DEFAULT_MAX_TOKENS_ESTIMATE;
}

function estimateTokens(c: AppContext, endpoint: JsonEndpoint, fields: GatewayFields, body: JsonObject): TokenEstimate {
  const promptTokens = estimatePromptTokens(body);
  if (!endpoint.generates) return inputOnly(promptTokens);
  const own = ownCompletionLimit(fields);
  return {
    promptTokens,
    completionTokens: own ?? endpoint.defaultMaxTokens ?? defaultCompletionTokens(c),
    choices: Math.max(fields.n ?? 1, fields.best_of ?? 1),
    // vLLM's own default for completions (16) is a limit the client gets either way: not one to lower.
    explicit: own !== undefined || endpoint.defaultMaxTokens !== undefined,
  };
}

export async function handleJsonInference(c: AppContext, endpoint: JsonEndpoint, defaultProvider?: string): Promise<Response> {
  const body = await readJsonObject(c.req.raw, requestBodyLimit(c));
  const fields = parseOrThrow(gatewayFields, body, "request");
  const stream = fields.stream === true;
  if (stream && !endpoint.streamRequestType) throw badRequest(`stream is not supported on ${endpoint.path}`, "unsupported_parameter", "stream");
  const requestType = stream && endpoint.streamRequestType ? endpoint.streamRequestType : endpoint.requestType;
  const estimate = estimateTokens(c, endpoint, fields, body);
  delete body.fallbacks;
  if (payloadLoggingOn(c.env)) traceOf(c).requestBody = truncatePayload(JSON.stringify(body));
  // Usage is needed for accounting; ask for it and hide the extra chunk from clients that did not.
  const clientWantsUsage = fields.stream_options?.include_usage === true;
  if (stream && !clientWantsUsage) body.stream_options = { ...(fields.stream_options ?? {}), include_usage: true };
  const dropUsageOnlyChunk = stream && !clientWantsUsage;
  const streamedJson = !stream && endpoint.streamShape ? streamedJsonFor(body, endpoint.streamShape) : undefined;
  const reasoningChoice = endpoint === CHAT ? reasoningFieldRequested(c.req.header(REASONING_FIELD_HEADER)) : undefined;
  return runInference(c, {
    model: fields.model,
    requestType,
    defaultProvider,
    estimate,
    fallbacks: fields.fallbacks ?? undefined,
    metered: true,
    upstream: { kind: "json", path: endpoint.path, pathKey: endpoint.pathKey, body, stream, streamedJson, reply: { kind: "openai", dropUsageOnlyChunk, reasoningField: reasoningChoice } },
  });
}
