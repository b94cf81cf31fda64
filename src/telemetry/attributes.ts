/**
 * Span attributes: OpenTelemetry's GenAI semantic conventions (gen_ai.*, as of semantic-conventions 1.37: provider
 * name, operation, request parameters, response id/model/finish reasons, usage, input/output messages), HTTP and
 * server ones (http.*, url.path, server.*, error.type), and the gateway's own under Bifrost's `bifrost.*` names
 * (virtual key, provider key, attempts, fallback index, cache hit) plus `gen_ai.usage.cost` in USD, which Bifrost
 * and Langfuse read — so dashboards built on Bifrost's spans read these too.
 */
import type { LogRow } from "../observability/log-row";
import type { Target } from "../routing/resolve";
import type { PathKey } from "../upstream/origin";
import { inputMessages, outputMessages } from "./content";
import { boolAttribute, doubleAttribute, intAttribute, stringAttribute, stringsAttribute, type KeyValue } from "./otlp-encode";

/** gen_ai.operation.name: the convention's names where one fits; the origin path's own name for vLLM's others. */
const OPERATIONS: Partial<Record<PathKey, string>> = { chat_completion: "chat", text_completion: "text_completion", embedding: "embeddings" };

export function operationOf(pathKey: PathKey): string {
  return OPERATIONS[pathKey] ?? pathKey;
}

/** Request parameters the conventions name: [body field, attribute, integer?]. */
const PARAMETERS: readonly (readonly [string, string, boolean])[] = [
  ["max_completion_tokens", "gen_ai.request.max_tokens", true],
  ["max_tokens", "gen_ai.request.max_tokens", true],
  ["temperature", "gen_ai.request.temperature", false],
  ["top_p", "gen_ai.request.top_p", false],
  ["top_k", "gen_ai.request.top_k", false],
  ["frequency_penalty", "gen_ai.request.frequency_penalty", false],
  ["presence_penalty", "gen_ai.request.presence_penalty", false],
  ["seed", "gen_ai.request.seed", true],
  ["n", "gen_ai.request.choice.count", true],
];

/** The parameters the origin was sent (after the gateway wrote its completion limit in), each once. */
export function requestParameters(body: Record<string, unknown>): KeyValue[] {
  const attributes: KeyValue[] = [];
  const seen = new Set<string>();
  for (const [field, key, integer] of PARAMETERS) {
    const value = body[field];
    if (typeof value !== "number" || !Number.isFinite(value) || seen.has(key)) continue;
    // The choice count is conditionally required only when it is not 1.
    if (key === "gen_ai.request.choice.count" && value === 1) continue;
    seen.add(key);
    attributes.push(integer ? intAttribute(key, value) : doubleAttribute(key, value));
  }
  return attributes;
}

/** What one origin attempt learned; filled in as it runs. */
export interface AttemptRecord {
  spanId: string;
  target: Target;
  operation: string;
  startMs: number;
  endMs?: number;
  /** The origin's HTTP status, when it answered at all. */
  status?: number;
  parameters?: KeyValue[];
  usage?: { input: number; output: number };
  responseId?: string | undefined;
  responseModel?: string | undefined;
  finishReasons: string[];
  errorType?: string;
  errorMessage?: string;
}

function answerAttributes(record: AttemptRecord): KeyValue[] {
  const attributes = [...(record.parameters ?? [])];
  if (record.responseId !== undefined) attributes.push(stringAttribute("gen_ai.response.id", record.responseId));
  if (record.responseModel !== undefined) attributes.push(stringAttribute("gen_ai.response.model", record.responseModel));
  if (record.finishReasons.length > 0) attributes.push(stringsAttribute("gen_ai.response.finish_reasons", record.finishReasons));
  return attributes;
}

/** `host:port` (a VPC binding's name has no port). */
function serverAttributes(originHost: string): KeyValue[] {
  if (originHost === "") return [];
  const match = /^(.*):(\d+)$/.exec(originHost);
  if (!match?.[1] || !match[2]) return [stringAttribute("server.address", originHost)];
  return [stringAttribute("server.address", match[1]), intAttribute("server.port", Number(match[2]))];
}

export function attemptAttributes(record: AttemptRecord): KeyValue[] {
  const { target } = record;
  const attributes = [
    stringAttribute("gen_ai.operation.name", record.operation),
    stringAttribute("gen_ai.provider.name", target.provider.name),
    stringAttribute("gen_ai.request.model", target.upstreamModel),
    ...answerAttributes(record),
    ...serverAttributes(target.key.originHost),
    stringAttribute("http.request.method", "POST"),
    stringAttribute("bifrost.selected_key.name", target.key.name),
  ];
  if (record.usage) attributes.push(intAttribute("gen_ai.usage.input_tokens", record.usage.input), intAttribute("gen_ai.usage.output_tokens", record.usage.output));
  if (record.status !== undefined) attributes.push(intAttribute("http.response.status_code", record.status));
  if (record.errorType !== undefined) attributes.push(stringAttribute("error.type", record.errorType));
  return attributes;
}

/** Prompt and answer, present only when payloads are kept. */
export interface SpanContent {
  prompt: unknown;
  answer: string | undefined;
}

/** The request span's attributes: the log row's facts, and the answering attempt's response. */
export function requestSpanAttributes(path: string, operation: string | undefined, row: LogRow, answered: AttemptRecord | undefined, content: SpanContent | undefined): KeyValue[] {
  const attributes = [stringAttribute("http.request.method", "POST"), stringAttribute("url.path", path), stringAttribute("http.route", path), intAttribute("http.response.status_code", row.status)];
  if (operation !== undefined) attributes.push(stringAttribute("gen_ai.operation.name", operation));
  if (row.provider !== null) attributes.push(stringAttribute("gen_ai.provider.name", row.provider));
  if (row.model !== null) attributes.push(stringAttribute("gen_ai.request.model", row.model));
  if (answered) attributes.push(...answerAttributes(answered));
  // Usage the request was charged for: known once an origin answered, or a cached answer was replayed.
  if (answered || row.cache_hit) attributes.push(intAttribute("gen_ai.usage.input_tokens", row.prompt_tokens), intAttribute("gen_ai.usage.output_tokens", row.completion_tokens));
  attributes.push(doubleAttribute("gen_ai.usage.cost", row.cost), stringAttribute("bifrost.request.id", row.request_id));
  if (row.virtual_key_id !== null) attributes.push(stringAttribute("bifrost.virtual_key.id", row.virtual_key_id));
  if (row.virtual_key_name !== null) attributes.push(stringAttribute("bifrost.virtual_key.name", row.virtual_key_name));
  if (row.provider_key !== null) attributes.push(stringAttribute("bifrost.selected_key.name", row.provider_key));
  attributes.push(
    intAttribute("bifrost.attempts", row.attempts),
    intAttribute("bifrost.fallback_index", row.fallback_index),
    boolAttribute("bifrost.cache_hit", row.cache_hit),
    boolAttribute("bifrost.stream", row.stream),
  );
  if (row.error_code !== null) attributes.push(stringAttribute("error.type", row.error_code));
  const input = content && inputMessages(content.prompt);
  if (input !== undefined) attributes.push(stringAttribute("gen_ai.input.messages", input));
  const output = content?.answer !== undefined ? outputMessages(content.answer) : undefined;
  if (output !== undefined) attributes.push(stringAttribute("gen_ai.output.messages", output));
  return attributes;
}
