/**
 * OpenAI Responses request → chat completions request. Fields the gateway maps are removed; everything it does not
 * know passes through to the origin, as for chat. Features that need a response store or hosted tools are refused
 * with a 400 that names them.
 */
import * as z from "zod/mini";
import { parseOrThrow } from "../config/validation";
import { badRequest } from "../http/errors";
import { fallbackModels, modelField } from "../http/request-fields";
import type { JsonObject } from "../http/body";
import type { ChatContentPart, ChatMessageIn, ChatToolCall } from "./chat-types";

const contentPart = z.looseObject({ type: z.string() });
const inputItem = z.looseObject({
  type: z.optional(z.string()),
  role: z.optional(z.string()),
  content: z.optional(z.union([z.string(), z.array(contentPart)])),
  call_id: z.optional(z.string()),
  name: z.optional(z.string()),
  arguments: z.optional(z.string()),
  output: z.optional(z.union([z.string(), z.array(contentPart)])),
  summary: z.optional(z.array(contentPart)),
});
const functionTool = z.looseObject({ type: z.string(), name: z.optional(z.string()), description: z.optional(z.string()), parameters: z.optional(z.unknown()), strict: z.nullish(z.boolean()) });

export const responsesFields = z.looseObject({
  model: modelField,
  input: z.union([z.string(), z.array(inputItem)], { error: "input is required: a string or a list of items" }),
  instructions: z.nullish(z.string()),
  max_output_tokens: z.nullish(z.int().check(z.gte(1))),
  stream: z.nullish(z.boolean()),
  text: z.nullish(
    z.looseObject({
      format: z.optional(
        z.looseObject({ type: z.string(), name: z.optional(z.string()), schema: z.optional(z.unknown()), strict: z.nullish(z.boolean()), description: z.optional(z.string()) }),
      ),
    }),
  ),
  tools: z.nullish(z.array(functionTool)),
  tool_choice: z.nullish(
    z.union([z.string(), z.looseObject({ type: z.string(), name: z.optional(z.string()), mode: z.optional(z.string()), tools: z.optional(z.array(z.looseObject({ name: z.optional(z.string()) }))) })]),
  ),
  reasoning: z.nullish(z.looseObject({ effort: z.nullish(z.string()), summary: z.nullish(z.string()) })),
  metadata: z.nullish(z.record(z.string(), z.string())),
  previous_response_id: z.nullish(z.string()),
  store: z.nullish(z.boolean()),
  conversation: z.optional(z.unknown()),
  background: z.nullish(z.boolean()),
  top_logprobs: z.nullish(z.int()),
  include: z.nullish(z.array(z.string())),
  fallbacks: fallbackModels,
});

export type ResponsesFields = z.infer<typeof responsesFields>;

/** Responses fields that have no chat counterpart and are not forwarded (echoed where the Response object has them). */
const NOT_FORWARDED = ["input", "instructions", "max_output_tokens", "text", "tools", "tool_choice", "reasoning", "metadata", "store", "truncation", "include", "max_tool_calls", "service_tier", "prompt_cache_key", "safety_identifier", "previous_response_id", "conversation", "background", "top_logprobs", "stream_options", "fallbacks"];

function textOfParts(parts: string | z.infer<typeof contentPart>[] | undefined): string {
  if (parts === undefined) return "";
  if (typeof parts === "string") return parts;
  return parts.map((part) => (typeof part.text === "string" ? part.text : "")).join("");
}

function contentOf(content: string | z.infer<typeof contentPart>[] | undefined): string | ChatContentPart[] {
  if (content === undefined) return "";
  if (typeof content === "string") return content;
  return content.map((part): ChatContentPart => {
    switch (part.type) {
      case "input_text":
      case "output_text":
      case "text":
        if (typeof part.text !== "string") throw badRequest(`an '${part.type}' content part needs 'text' as a string`, "invalid_request", "input");
        return { type: "text", text: part.text };
      case "input_image": {
        const url = typeof part.image_url === "string" ? part.image_url : undefined;
        if (!url) throw badRequest("input_image needs an image_url (file_id is not supported: there is no file store)", "unsupported_parameter", "input");
        return { type: "image_url", image_url: { url, ...(typeof part.detail === "string" ? { detail: part.detail } : {}) } };
      }
      case "input_audio":
        return { type: "input_audio", input_audio: part.input_audio };
      default:
        throw badRequest(`content part type '${part.type}' is not supported`, "unsupported_parameter", "input");
    }
  });
}

function messagesOf(fields: ResponsesFields): ChatMessageIn[] {
  const messages: ChatMessageIn[] = [];
  if (fields.instructions) messages.push({ role: "system", content: fields.instructions });
  if (typeof fields.input === "string") {
    messages.push({ role: "user", content: fields.input });
    return messages;
  }
  let pendingReasoning: string | undefined;
  for (const item of fields.input) {
    const type = item.type ?? "message";
    if (type === "message") {
      const role = item.role === "developer" ? "system" : item.role;
      if (role !== "system" && role !== "user" && role !== "assistant") throw badRequest(`input message role '${item.role}' is not supported`, "invalid_request", "input");
      const message: ChatMessageIn = { role, content: contentOf(item.content) };
      if (role === "assistant" && pendingReasoning) message.reasoning = pendingReasoning;
      pendingReasoning = undefined;
      messages.push(message);
    } else if (type === "function_call") {
      if (!item.call_id || !item.name) throw badRequest("a function_call input item needs call_id and name", "invalid_request", "input");
      const call: ChatToolCall = { id: item.call_id, type: "function", function: { name: item.name, arguments: item.arguments ?? "{}" } };
      const last = messages[messages.length - 1];
      // Consecutive calls belong to one assistant turn.
      if (last?.role === "assistant" && last.tool_calls) last.tool_calls.push(call);
      else messages.push({ role: "assistant", content: null, tool_calls: [call], ...(pendingReasoning ? { reasoning: pendingReasoning } : {}) });
      pendingReasoning = undefined;
    } else if (type === "function_call_output") {
      if (!item.call_id) throw badRequest("a function_call_output input item needs call_id", "invalid_request", "input");
      messages.push({ role: "tool", tool_call_id: item.call_id, content: textOfParts(item.output) });
    } else if (type === "reasoning") {
      // vLLM reads prior reasoning from `reasoning` on the assistant message that follows.
      pendingReasoning = textOfParts(item.content ?? item.summary);
    } else if (type === "item_reference") {
      throw badRequest("item_reference input items need a response store, which this gateway does not keep", "unsupported_parameter", "input");
    } else {
      throw badRequest(`input item type '${type}' is not supported`, "unsupported_parameter", "input");
    }
  }
  return messages;
}

function toolsOf(fields: ResponsesFields): JsonObject[] | undefined {
  if (!fields.tools) return undefined;
  let tools = fields.tools;
  const choice = fields.tool_choice;
  if (typeof choice === "object" && choice?.type === "allowed_tools") {
    const allowed = new Set((choice.tools ?? []).map((tool) => tool.name));
    tools = tools.filter((tool) => allowed.has(tool.name));
  }
  return tools.map((tool) => {
    if (tool.type !== "function") throw badRequest(`tool type '${tool.type}' is not supported: only function tools reach self-hosted models`, "unsupported_parameter", "tools");
    if (!tool.name) throw badRequest("a function tool needs a name", "invalid_request", "tools");
    const fn: JsonObject = { name: tool.name };
    if (tool.description !== undefined) fn.description = tool.description;
    if (tool.parameters !== undefined) fn.parameters = tool.parameters;
    if (tool.strict != null) fn.strict = tool.strict;
    return { type: "function", function: fn };
  });
}

function toolChoiceOf(choice: ResponsesFields["tool_choice"]): unknown {
  if (choice == null || typeof choice === "string") return choice ?? undefined;
  if (choice.type === "function") return { type: "function", function: { name: choice.name } };
  if (choice.type === "allowed_tools") return choice.mode ?? "auto";
  throw badRequest(`tool_choice type '${choice.type}' is not supported`, "unsupported_parameter", "tool_choice");
}

function responseFormatOf(format: NonNullable<ResponsesFields["text"]>["format"]): JsonObject | undefined {
  if (!format || format.type === "text") return undefined;
  if (format.type === "json_object") return { type: "json_object" };
  if (format.type === "json_schema") {
    const schema: JsonObject = { name: format.name ?? "response", schema: format.schema ?? {} };
    if (format.strict != null) schema.strict = format.strict;
    if (format.description !== undefined) schema.description = format.description;
    return { type: "json_schema", json_schema: schema };
  }
  throw badRequest(`text.format type '${format.type}' is not supported`, "unsupported_parameter", "text.format");
}

/** The chat request for a Responses request, and the validated fields the response echoes. */
export function responsesToChat(body: JsonObject): { chat: JsonObject; fields: ResponsesFields } {
  const fields = parseOrThrow(responsesFields, body, "request");
  if (fields.previous_response_id) throw badRequest("previous_response_id needs a response store, which this gateway does not keep: send the whole conversation in input", "unsupported_parameter", "previous_response_id");
  if (fields.conversation !== undefined) throw badRequest("conversation needs a conversation store, which this gateway does not keep", "unsupported_parameter", "conversation");
  if (fields.background) throw badRequest("background responses are not supported", "unsupported_parameter", "background");
  const chat: JsonObject = {};
  for (const [key, value] of Object.entries(body)) if (!NOT_FORWARDED.includes(key)) chat[key] = value;
  chat.messages = messagesOf(fields);
  if (fields.max_output_tokens != null) chat.max_completion_tokens = fields.max_output_tokens;
  const tools = toolsOf(fields);
  if (tools) chat.tools = tools;
  const toolChoice = toolChoiceOf(fields.tool_choice);
  if (toolChoice !== undefined) chat.tool_choice = toolChoice;
  const format = responseFormatOf(fields.text?.format);
  if (format) chat.response_format = format;
  if (fields.reasoning?.effort) chat.reasoning_effort = fields.reasoning.effort;
  if (fields.top_logprobs != null || fields.include?.includes("message.output_text.logprobs")) {
    chat.logprobs = true;
    if (fields.top_logprobs != null) chat.top_logprobs = fields.top_logprobs;
  }
  if (fields.stream) chat.stream_options = { include_usage: true };
  return { chat, fields };
}
