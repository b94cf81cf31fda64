/**
 * JSON answers assembled from the origin's stream. Cloudflare's proxy gives up on an origin that sends nothing for
 * about 100 s (HTTP 524), and a non-stream generation sends nothing until it is done: a long one through a tunnel
 * dies there. Asked for a stream instead, the origin sends bytes from the first token on, and the gateway builds the
 * answer vLLM would have returned from the chunks (chat-assembly.ts, text-assembly.ts). A request that uses
 * something only the non-stream answer carries is sent as it came.
 */
import { isJsonObject, type JsonObject } from "../http/body";

/** The stream's kind: chat completion chunks, or text completion chunks. */
export type StreamShape = "chat" | "text";

/** Plan value: the client wants JSON, and the origin may be asked for a stream of this shape instead. */
export interface StreamedJson {
  shape: StreamShape;
  /** tool_choice "required" or a named function: vLLM's answer then has content "" beside the calls, not null. */
  forcedToolChoice: boolean;
}

/** Collects one stream's chunks (in order) and builds the non-stream answer once the stream has ended. */
export interface Assembler {
  add(chunk: JsonObject): void;
  answer(): JsonObject;
}

/**
 * Request fields whose effect only a non-stream answer carries, or that vLLM refuses with `stream: true`:
 * prompt logprobs (also what `echo` turns on), token ids and the prompt's ids and text, disaggregated-serving
 * transfer parameters (returned in the answer), beam search, and the client's own `stream_options` (vLLM's 400
 * without `stream` is the answer the client should get).
 */
const NON_STREAM_ONLY = [
  "prompt_logprobs",
  "echo",
  "return_token_ids",
  "return_tokens_as_token_ids",
  "return_prompt_text",
  "kv_transfer_params",
  "ec_transfer_params",
  "use_beam_search",
  "stream_options",
];

function isSet(value: unknown): boolean {
  return value !== undefined && value !== null && value !== false;
}

/** Whether a JSON request may be streamed from the origin and assembled; undefined when it must go as it came. */
export function streamedJsonFor(body: JsonObject, shape: StreamShape): StreamedJson | undefined {
  if (NON_STREAM_ONLY.some((field) => isSet(body[field]))) return undefined;
  // vLLM streams nothing when best_of differs from n: it answers JSON whatever was asked.
  if (shape === "text" && isSet(body.best_of) && body.best_of !== (body.n ?? 1)) return undefined;
  if (shape === "text") return { shape, forcedToolChoice: false };
  const toolChoice = body.tool_choice;
  const usesTools = Array.isArray(body.tools) && body.tools.length > 0 && toolChoice !== "none";
  // Streaming, vLLM sends no chunk (so no logprobs) for tokens its tool parser holds back; the JSON answer has them.
  if (usesTools && isSet(body.logprobs)) return undefined;
  return { shape, forcedToolChoice: usesTools && (toolChoice === "required" || isJsonObject(toolChoice)) };
}

/** Top-level fields of the stream kept for the answer: the first chunk's identity, the last usage. */
export class Envelope {
  private identity: JsonObject | null = null;
  private usage: JsonObject | null = null;
  private readonly extras: JsonObject = {};

  add(chunk: JsonObject): void {
    this.identity ??= { id: chunk.id, created: chunk.created, model: chunk.model };
    // The usage chunk is the last (with continuous usage stats every chunk has one: the last counts them all).
    if (isJsonObject(chunk.usage)) this.usage = chunk.usage;
    // Newer vLLM repeats these non-stream fields on the final chunk.
    for (const key of ["system_fingerprint", "service_tier"]) if (isSet(chunk[key])) this.extras[key] = chunk[key];
  }

  /** The answer's top level around its choices, in vLLM's order. */
  answer(object: string, choices: JsonObject[]): JsonObject {
    const { id, created, model } = this.identity ?? {};
    const answer: JsonObject = { id, object, created, model, choices, ...this.extras };
    if (this.usage) answer.usage = this.usage;
    return answer;
  }
}

/** The chunk's choices that are objects with an integer index. */
export function choicesOf(chunk: JsonObject): (JsonObject & { index: number })[] {
  const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
  return choices.filter((choice): choice is JsonObject & { index: number } => isJsonObject(choice) && Number.isInteger(choice.index));
}

/** A choice's state, kept per index and returned in index order. */
export class ChoiceTable<T> {
  private readonly byIndex = new Map<number, T>();

  constructor(private readonly create: (index: number) => T) {}

  get(index: number): T {
    let state = this.byIndex.get(index);
    if (state === undefined) {
      state = this.create(index);
      this.byIndex.set(index, state);
    }
    return state;
  }

  ordered(): T[] {
    return [...this.byIndex.entries()].sort(([a], [b]) => a - b).map(([, state]) => state);
  }
}

/** The end of a choice: the finish reason of the chunk that finished it, with vLLM's stop_reason (null if none). */
export class Finish {
  reason: unknown = null;
  stopReason: unknown = null;

  add(choice: JsonObject): void {
    if (isSet(choice.finish_reason)) this.reason = choice.finish_reason;
    if (isSet(choice.stop_reason)) this.stopReason = choice.stop_reason;
  }
}

/** Appends an array's items to `into` one by one (no spread: an argument list has a size limit). */
export function pushAll(into: unknown[], items: unknown): void {
  if (!Array.isArray(items)) return;
  for (const item of items) into.push(item);
}
