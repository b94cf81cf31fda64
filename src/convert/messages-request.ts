/**
 * Anthropic Messages request → chat completions request. System text becomes a system message, tool results
 * become tool messages placed before the rest of their user turn, tool_use blocks become tool_calls with their ids
 * kept, thinking becomes `reasoning`. Unknown top-level fields pass through as for chat.
 */
import * as z from "zod/mini";
import { parseOrThrow } from "../config/validation";
import { badRequest } from "../http/errors";
import { fallbackModels, modelField } from "../http/request-fields";
import { isJsonObject, type JsonObject } from "../http/body";
import type { ChatContentPart, ChatMessageIn, ChatToolCall } from "./chat-types";

const block = z.looseObject({ type: z.string() });
const blocks = z.array(block);
const textBlocks = z.union([z.string(), blocks]);

const messagesFieldsSchema = z.looseObject({
  model: modelField,
  max_tokens: z.int({ error: "max_tokens is required and must be a number" }).check(z.gte(1)),
  messages: z
    .array(z.looseObject({ role: z.enum(["user", "assistant"], { error: "role must be user or assistant" }), content: textBlocks }), { error: "messages is required and must be an array" })
    .check(z.minLength(1, "messages must hold at least one message")),
  system: z.nullish(textBlocks),
  stop_sequences: z.nullish(z.array(z.string())),
  stream: z.nullish(z.boolean()),
  tools: z.nullish(z.array(z.looseObject({ name: z.string(), description: z.optional(z.string()), input_schema: z.optional(z.unknown()), type: z.optional(z.string()) }))),
  tool_choice: z.nullish(
    z
      .looseObject({ type: z.enum(["auto", "any", "tool", "none"]), name: z.optional(z.string()), disable_parallel_tool_use: z.optional(z.boolean()) })
      .check(z.refine((choice) => choice.type !== "tool" || (choice.name !== undefined && choice.name !== ""), "tool_choice of type 'tool' needs the tool's name")),
  ),
  thinking: z.nullish(
    z
      .looseObject({ type: z.enum(["enabled", "disabled", "adaptive"]), budget_tokens: z.optional(z.int().check(z.gte(1024, "thinking.budget_tokens must be at least 1024"))) })
      .check(z.refine((thinking) => thinking.type !== "enabled" || thinking.budget_tokens !== undefined, "thinking.budget_tokens is required when thinking is enabled")),
  ),
  metadata: z.nullish(z.looseObject({ user_id: z.nullish(z.string()) })),
  fallbacks: fallbackModels,
});

/** The fields of a Messages request (derive others with `z.omit(messagesFields, …)`). */
export const messagesFields = messagesFieldsSchema;

export type MessagesFields = z.infer<typeof messagesFields>;
type Block = z.infer<typeof block>;

/** Fields mapped to chat fields (or meaningless for vLLM) and so not forwarded as they are. */
const MAPPED = ["messages", "system", "max_tokens", "stop_sequences", "tools", "tool_choice", "thinking", "metadata", "service_tier", "container", "mcp_servers", "fallbacks"];

/** A block's string field, which Anthropic requires: anything else is the client's mistake, not an empty string. */
function text(b: Block, field: string): string {
  const value = b[field];
  if (typeof value !== "string") throw badRequest(`a '${b.type}' content block needs '${field}' as a string`, "invalid_request", "messages");
  return value;
}

function joinText(content: string | Block[]): string {
  if (typeof content === "string") return content;
  return content.map((b) => (b.type === "text" ? text(b, "text") : "")).join("\n");
}

/** The system prompt: a string or text blocks (Anthropic takes nothing else there). */
function systemText(content: string | Block[]): string {
  const other = typeof content === "string" ? undefined : content.find((b) => b.type !== "text");
  if (other) throw badRequest(`system takes text blocks only, not '${other.type}'`, "invalid_request", "system");
  return joinText(content);
}

/** A tool result's content: text, or text blocks (with images, which a chat tool message cannot carry, left out). */
function toolResultText(b: Block): string {
  if (b.content === undefined) return "";
  if (typeof b.content === "string") return b.content;
  const parsed = z.safeParse(blocks, b.content);
  if (!parsed.success) throw badRequest("a 'tool_result' content block's content must be a string or an array of content blocks", "invalid_request", "messages");
  return joinText(parsed.data);
}

/** A tool_use block's input: the arguments object the model produced. */
function toolInput(b: Block): JsonObject {
  if (b.input === undefined) return {};
  if (!isJsonObject(b.input)) throw badRequest("a 'tool_use' content block's input must be an object", "invalid_request", "messages");
  return b.input;
}

function imagePart(image: Block): ChatContentPart {
  const source = image.source as { type?: string; media_type?: string; data?: string; url?: string } | undefined;
  if (source?.type === "base64" && source.data) return { type: "image_url", image_url: { url: `data:${source.media_type ?? "image/png"};base64,${source.data}` } };
  if (source?.type === "url" && source.url) return { type: "image_url", image_url: { url: source.url } };
  throw badRequest("image blocks need a base64 or url source", "invalid_request", "messages");
}

function userTurn(content: string | Block[]): ChatMessageIn[] {
  if (typeof content === "string") return [{ role: "user", content }];
  const tools: ChatMessageIn[] = [];
  const parts: ChatContentPart[] = [];
  for (const b of content) {
    switch (b.type) {
      case "text":
        parts.push({ type: "text", text: text(b, "text") });
        break;
      case "image":
        parts.push(imagePart(b));
        break;
      case "tool_result": {
        const body = toolResultText(b);
        tools.push({ role: "tool", tool_call_id: text(b, "tool_use_id"), content: b.is_error === true ? `Error: ${body}` : body });
        break;
      }
      case "document": {
        const source = b.source as { type?: string; data?: unknown } | undefined;
        if (source?.type !== "text") throw badRequest("only text documents are supported (PDFs are not)", "unsupported_parameter", "messages");
        if (typeof source.data !== "string") throw badRequest("a text document's source needs 'data' as a string", "invalid_request", "messages");
        parts.push({ type: "text", text: source.data });
        break;
      }
      default:
        throw badRequest(`content block type '${b.type}' is not supported in user messages`, "unsupported_parameter", "messages");
    }
  }
  // Tool results answer the previous assistant turn, so they come before the rest of this one.
  return parts.length > 0 ? [...tools, { role: "user", content: parts.every((p) => p.type === "text") ? parts.map((p) => (p.type === "text" ? p.text : "")).join("\n") : parts }] : tools;
}

function assistantTurn(content: string | Block[]): ChatMessageIn {
  if (typeof content === "string") return { role: "assistant", content };
  let textOut = "";
  let reasoning = "";
  const calls: ChatToolCall[] = [];
  for (const b of content) {
    if (b.type === "text") textOut += text(b, "text");
    else if (b.type === "thinking") reasoning += text(b, "thinking");
    else if (b.type === "tool_use") calls.push({ id: text(b, "id"), type: "function", function: { name: text(b, "name"), arguments: JSON.stringify(toolInput(b)) } });
    else if (b.type !== "redacted_thinking") throw badRequest(`content block type '${b.type}' is not supported in assistant messages`, "unsupported_parameter", "messages");
  }
  const message: ChatMessageIn = { role: "assistant", content: textOut === "" && calls.length > 0 ? null : textOut };
  if (reasoning) message.reasoning = reasoning;
  if (calls.length > 0) message.tool_calls = calls;
  return message;
}

/** Chat messages for an Anthropic conversation; consecutive turns of one role are merged, as Anthropic does. */
export function chatMessagesOf(fields: Pick<MessagesFields, "system" | "messages">): ChatMessageIn[] {
  const out: ChatMessageIn[] = [];
  if (fields.system) out.push({ role: "system", content: systemText(fields.system) });
  for (const turn of fields.messages) {
    const converted = turn.role === "user" ? userTurn(turn.content) : [assistantTurn(turn.content)];
    for (const message of converted) {
      const last = out[out.length - 1];
      if (last && last.role === message.role && message.role !== "tool" && typeof last.content === "string" && typeof message.content === "string" && !last.tool_calls && !message.tool_calls) {
        last.content = `${last.content}\n${message.content}`;
      } else out.push(message);
    }
  }
  return out;
}

/**
 * The chat fields the model's chat template renders besides the messages: the tools (their definitions are part of
 * the prompt) and `chat_template_kwargs.enable_thinking`. Counting tokens sends them too.
 */
export function templateFields(fields: Pick<MessagesFields, "tools" | "thinking">, body: JsonObject): JsonObject {
  const out: JsonObject = {};
  if (fields.tools?.length) {
    out.tools = fields.tools.map((tool) => {
      if (tool.type !== undefined && tool.type !== "custom") throw badRequest(`server tool '${tool.type}' is not supported`, "unsupported_parameter", "tools");
      return { type: "function", function: { name: tool.name, ...(tool.description ? { description: tool.description } : {}), parameters: tool.input_schema ?? { type: "object", properties: {} } } };
    });
  }
  if (fields.thinking) out.chat_template_kwargs = { ...((body.chat_template_kwargs as JsonObject | undefined) ?? {}), enable_thinking: fields.thinking.type !== "disabled" };
  return out;
}

export function messagesToChat(body: JsonObject): { chat: JsonObject; fields: MessagesFields } {
  const fields = parseOrThrow(messagesFields, body, "request");
  const chat: JsonObject = {};
  for (const [key, value] of Object.entries(body)) if (!MAPPED.includes(key)) chat[key] = value;
  chat.messages = chatMessagesOf(fields);
  chat.max_completion_tokens = fields.max_tokens;
  if (fields.stop_sequences?.length) chat.stop = fields.stop_sequences;
  Object.assign(chat, templateFields(fields, body));
  const choice = fields.tool_choice;
  if (choice) {
    chat.tool_choice = choice.type === "any" ? "required" : choice.type === "tool" ? { type: "function", function: { name: choice.name } } : choice.type;
    if (choice.disable_parallel_tool_use) chat.parallel_tool_calls = false;
  }
  if (fields.thinking && fields.thinking.type !== "disabled" && fields.thinking.budget_tokens) chat.thinking_token_budget = fields.thinking.budget_tokens;
  if (fields.metadata?.user_id) chat.user = fields.metadata.user_id;
  if (fields.stream) chat.stream_options = { include_usage: true, continuous_usage_stats: true };
  return { chat, fields };
}
