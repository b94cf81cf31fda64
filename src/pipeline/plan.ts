/**
 * What an endpoint hands the inference pipeline once it has parsed its request: plain values saying where the
 * request goes, what it may cost, what to send upstream and how to shape the answer. The pipeline does the rest.
 */
import type { RequestType } from "../config/schema";
import type { ChatCompletion } from "../convert/chat-types";
import type { StreamedJson } from "../convert/assembly";
import type { RerankDocument } from "../convert/rerank-answer";
import type { TokenEstimate } from "../governance/admission";
import type { JsonObject } from "../http/body";
import type { MultipartHead } from "../http/multipart-head";
import type { PathKey } from "../upstream/origin";
import type { ReasoningFieldChoice } from "../upstream/reasoning-field";
import type { StreamConverter } from "../upstream/stream-converter";

export interface InferencePlan {
  /** The model as the client named it. */
  model: string;
  requestType: RequestType;
  /** The provider a bare model name means on this route (/vllm/…), if any. */
  defaultProvider: string | undefined;
  /** The provider a bare name no key lists goes to, when configured (/anthropic: `anthropic`, as Bifrost's does). */
  unlistedProvider?: string | undefined;
  /** What the request may use, reserved before any origin is contacted. */
  estimate: TokenEstimate;
  /** `fallbacks` from the request body: models to try, in order, when the primary fails. */
  fallbacks: readonly string[] | undefined;
  /**
   * False for requests that run no model (tokenize, detokenize, count_tokens): admitted against the key's request
   * windows and concurrency like any request, but priced at nothing, reserving and charged no tokens or dollars.
   */
  metered: boolean;
  upstream: UpstreamPlan;
}

export type UpstreamPlan = JsonUpstream | MultipartUpstream;

/** A JSON body, sent with each target's model name (and the granted completion limit) written in. */
export interface JsonUpstream {
  kind: "json";
  path: string;
  pathKey: PathKey;
  body: JsonObject;
  stream: boolean;
  /** Tried when the origin has no `path` (404/405/501) and the provider sets no override: rerank's /rerank. */
  alternatePath?: string | undefined;
  /**
   * Set when the client wants JSON but the body may be sent with `stream: true` and the answer assembled from the
   * stream (network_config.stream_for_json, decided per target): bytes then keep flowing through proxies that
   * cut off a silent origin. Absent: the body goes as the client sent it.
   */
  streamedJson?: StreamedJson | undefined;
  reply: Reply;
}

/** An upload streamed once to the origin, its `model` field rewritten on the way (audio). */
export interface MultipartUpstream {
  kind: "multipart";
  path: string;
  pathKey: PathKey;
  head: MultipartHead;
  contentType: string;
  contentLength: number;
}

/** How the origin's answer becomes the client's. */
export type Reply =
  /** OpenAI's own shape: relayed as it came, model name restored. */
  | { kind: "openai"; dropUsageOnlyChunk: boolean; reasoningField?: ReasoningFieldChoice | undefined }
  /** A chat answer re-expressed in another API (Responses, Anthropic Messages). */
  | { kind: "converted"; conversion: ChatConversion }
  | { kind: "rerank"; documents: readonly RerankDocument[]; returnDocuments: boolean | undefined }
  /** vLLM's /tokenize answer as Anthropic's count_tokens answer. */
  | { kind: "token_count" };

export interface ChatConversion {
  streamConverter(publicModel: string): StreamConverter;
  /** The answer's JSON text (text, so an endpoint that also stores it serializes it once). */
  answer(completion: ChatCompletion, publicModel: string): string;
}
