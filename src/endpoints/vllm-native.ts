/**
 * vLLM's own endpoints beside the OpenAI API, governed like the rest: routed by `model`, sent with the served name,
 * answered as vLLM answers with the client's model name restored.
 *
 * - /tokenize and /detokenize run no model, only the tokenizer: admitted against the key's request windows and
 *   concurrency, and charged nothing.
 * - /score, /classify and /pooling run a pooling model over their input: charged by input tokens — the origin's
 *   `usage` when it reports one, the gateway's estimate otherwise — like embeddings and rerank.
 *
 * vLLM serves these at its root (/score also at /v1/score, which older servers have alone), not under /v1.
 */
import type { RequestType } from "../config/schema";
import { parseOrThrow } from "../config/validation";
import { readJsonObject, type JsonObject } from "../http/body";
import type { AppContext } from "../http/context";
import { badRequest } from "../http/errors";
import { inputOnly } from "../governance/admission";
import { estimatePromptTokens } from "../governance/prompt-estimate";
import { payloadLoggingOn, truncatePayload } from "../observability/request-log";
import { runInference } from "../pipeline/inference";
import { traceOf } from "../pipeline/trace";
import type { PathKey } from "../upstream/origin";
import { requestBodyLimit } from "./json-inference";
import { classifyFields, detokenizeFields, estimateScoreTokens, poolingFields, scoreFields, tokenizeFields } from "./vllm-native-fields";

type NativeFields = typeof tokenizeFields | typeof detokenizeFields | typeof scoreFields | typeof classifyFields | typeof poolingFields;

export interface NativeEndpoint {
  requestType: RequestType & PathKey;
  path: string;
  /** Tried when the origin has no `path` (404/405/501) and the provider sets no override. */
  alternatePath?: string;
  fields: NativeFields;
  /** Prompt tokens the model reads; null for endpoints that run no model (charged nothing). */
  estimate: ((body: JsonObject) => number) | null;
}

export const TOKENIZE: NativeEndpoint = { requestType: "tokenize", path: "/tokenize", fields: tokenizeFields, estimate: null };
export const DETOKENIZE: NativeEndpoint = { requestType: "detokenize", path: "/detokenize", fields: detokenizeFields, estimate: null };
export const SCORE: NativeEndpoint = { requestType: "score", path: "/score", alternatePath: "/v1/score", fields: scoreFields, estimate: estimateScoreTokens };
export const CLASSIFY: NativeEndpoint = { requestType: "classify", path: "/classify", fields: classifyFields, estimate: estimatePromptTokens };
export const POOLING: NativeEndpoint = { requestType: "pooling", path: "/pooling", fields: poolingFields, estimate: estimatePromptTokens };

export async function handleNative(c: AppContext, endpoint: NativeEndpoint, defaultProvider?: string): Promise<Response> {
  const body = await readJsonObject(c.req.raw, requestBodyLimit(c));
  const fields = parseOrThrow(endpoint.fields, body, `${endpoint.requestType} request`);
  if (fields.stream === true) throw badRequest(`stream is not supported on ${endpoint.path}: vLLM answers it in one JSON body`, "unsupported_parameter", "stream");
  if (payloadLoggingOn(c.env)) traceOf(c).requestBody = truncatePayload(JSON.stringify(body));
  return runInference(c, {
    model: fields.model,
    requestType: endpoint.requestType,
    defaultProvider,
    estimate: inputOnly(endpoint.estimate ? endpoint.estimate(body) : 0),
    fallbacks: undefined,
    metered: endpoint.estimate !== null,
    upstream: {
      kind: "json",
      path: endpoint.path,
      pathKey: endpoint.requestType,
      body,
      stream: false,
      alternatePath: endpoint.alternatePath,
      reply: { kind: "openai", dropUsageOnlyChunk: false },
    },
  });
}
