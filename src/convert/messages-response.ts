/** Chat completion → Anthropic message, plus the stop-reason, usage and error mappings the stream converter shares. */
import type { JsonObject } from "../http/body";
import type { GatewayError } from "../http/errors";
import { randomId, reasoningOf, type ChatCompletion, type ChatUsage } from "./chat-types";

export function stopReasonOf(finishReason: string | null | undefined, stopReason: unknown, stopSequences: readonly string[] | null | undefined): { stop_reason: string; stop_sequence: string | null } {
  if (finishReason === "length") return { stop_reason: "max_tokens", stop_sequence: null };
  if (finishReason === "tool_calls") return { stop_reason: "tool_use", stop_sequence: null };
  if (finishReason === "content_filter") return { stop_reason: "refusal", stop_sequence: null };
  if (typeof stopReason === "string" && stopSequences?.includes(stopReason)) return { stop_reason: "stop_sequence", stop_sequence: stopReason };
  return { stop_reason: "end_turn", stop_sequence: null };
}

export function anthropicUsage(usage: ChatUsage | null | undefined): JsonObject {
  const cached = usage?.prompt_tokens_details?.cached_tokens ?? 0;
  return {
    input_tokens: Math.max(0, (usage?.prompt_tokens ?? 0) - cached),
    output_tokens: usage?.completion_tokens ?? 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
  };
}

/** Tool arguments as the `input` object Anthropic clients expect; unparsable arguments become {}. */
export function toolInput(args: string): JsonObject {
  try {
    const parsed: unknown = JSON.parse(args || "{}");
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as JsonObject) : {};
  } catch {
    return {};
  }
}

export function chatToMessage(chat: ChatCompletion, model: string, stopSequences: readonly string[] | null | undefined): JsonObject {
  const choice = chat.choices?.[0];
  const message = choice?.message;
  const content: JsonObject[] = [];
  const reasoning = reasoningOf(message);
  if (reasoning) content.push({ type: "thinking", thinking: reasoning, signature: "" });
  if (typeof message?.content === "string" && message.content !== "") content.push({ type: "text", text: message.content });
  for (const call of message?.tool_calls ?? []) content.push({ type: "tool_use", id: call.id, name: call.function.name, input: toolInput(call.function.arguments) });
  return {
    id: randomId("msg_"),
    type: "message",
    role: "assistant",
    model,
    content,
    ...stopReasonOf(choice?.finish_reason, choice?.stop_reason, stopSequences),
    usage: anthropicUsage(chat.usage),
  };
}

const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  402: "billing_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  529: "overloaded_error",
};

/** Anthropic's error type for a status (its SDKs map errors by status; the type names the kind). */
export function anthropicErrorType(status: number): string {
  return ERROR_TYPES[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
}

/** An error in Anthropic's shape: `{"type":"error","error":{"type","message"},"request_id"}`. */
export function anthropicErrorResponse(error: GatewayError, requestId: string): Response {
  const headers = new Headers({ "content-type": "application/json; charset=utf-8", "request-id": requestId, "x-request-id": requestId, ...error.headers });
  const body = { type: "error", error: { type: anthropicErrorType(error.status), message: error.message }, request_id: requestId };
  return new Response(JSON.stringify(body), { status: error.status, headers });
}
