/** Chat completion → OpenAI Response object, and the pieces the streaming converter shares with it. */
import type { JsonObject } from "../http/body";
import { randomId, reasoningOf, type ChatCompletion, type ChatUsage } from "./chat-types";
import type { ResponsesFields } from "./responses-request";

export type ResponseStatus = "in_progress" | "completed" | "incomplete" | "failed";

export interface OutputItem extends JsonObject {
  id: string;
  type: "message" | "function_call" | "reasoning";
}

export function messageItem(id: string, text: string, status: string): OutputItem {
  return { id, type: "message", role: "assistant", status, content: [{ type: "output_text", text, annotations: [], logprobs: [] }] };
}

export function reasoningItem(id: string, text: string, status: string): OutputItem {
  return { id, type: "reasoning", summary: [], content: [{ type: "reasoning_text", text }], status };
}

export function functionCallItem(id: string, callId: string, name: string, args: string, status: string): OutputItem {
  return { id, type: "function_call", call_id: callId, name, arguments: args, status };
}

export function responsesUsage(usage: ChatUsage | null | undefined): JsonObject | null {
  if (!usage) return null;
  const input = usage.prompt_tokens ?? 0;
  const output = usage.completion_tokens ?? 0;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: usage.prompt_tokens_details?.cached_tokens ?? 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: usage.completion_tokens_details?.reasoning_tokens ?? 0 },
    total_tokens: usage.total_tokens ?? input + output,
  };
}

/** `status` and `incomplete_details` for a chat finish_reason. */
export function finishStatus(finishReason: string | null | undefined): { status: ResponseStatus; incomplete_details: JsonObject | null } {
  if (finishReason === "length") return { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } };
  if (finishReason === "content_filter") return { status: "incomplete", incomplete_details: { reason: "content_filter" } };
  return { status: "completed", incomplete_details: null };
}

/** The Response envelope: request settings echoed, as the official SDKs expect them. */
export function responseEnvelope(id: string, createdAt: number, model: string, fields: ResponsesFields): JsonObject {
  return {
    id,
    object: "response",
    created_at: createdAt,
    status: "in_progress",
    error: null,
    incomplete_details: null,
    instructions: fields.instructions ?? null,
    max_output_tokens: fields.max_output_tokens ?? null,
    model,
    output: [],
    parallel_tool_calls: fields.parallel_tool_calls ?? true,
    previous_response_id: fields.previous_response_id ?? null,
    reasoning: fields.reasoning ?? null,
    // Kept by the gateway unless the request said store: false.
    store: fields.store !== false,
    temperature: fields.temperature ?? null,
    text: fields.text ?? { format: { type: "text" } },
    tool_choice: fields.tool_choice ?? "auto",
    tools: fields.tools ?? [],
    top_p: fields.top_p ?? null,
    truncation: "disabled",
    usage: null,
    user: fields.user ?? null,
    metadata: fields.metadata ?? {},
  };
}

export function chatToResponse(chat: ChatCompletion, model: string, fields: ResponsesFields): JsonObject {
  const choice = chat.choices?.[0];
  const message = choice?.message;
  const output: OutputItem[] = [];
  const reasoning = reasoningOf(message);
  if (reasoning) output.push(reasoningItem(randomId("rs_"), reasoning, "completed"));
  const toolCalls = message?.tool_calls ?? [];
  const text = typeof message?.content === "string" ? message.content : "";
  if (text !== "" || toolCalls.length === 0) output.push(messageItem(randomId("msg_"), text, "completed"));
  for (const call of toolCalls) output.push(functionCallItem(randomId("fc_"), call.id, call.function.name, call.function.arguments, "completed"));
  const { status, incomplete_details } = finishStatus(choice?.finish_reason);
  return {
    ...responseEnvelope(randomId("resp_"), chat.created ?? Math.floor(Date.now() / 1000), model, fields),
    status,
    incomplete_details,
    output,
    usage: responsesUsage(chat.usage),
  };
}
