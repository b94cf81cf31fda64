/**
 * Prompts and completions in the shapes of OpenTelemetry's GenAI conventions (gen_ai.input.messages and
 * gen_ai.output.messages: `[{role, parts: [{type: "text", content}, {type: "tool_call", …}], finish_reason}]`),
 * recorded only where the request log keeps bodies too (LOG_PAYLOADS). Both come from outside the gateway — the
 * client's body and the origin's answer — so they are read through lenient schemas: what does not fit is left out,
 * never trusted. Each part's text is cut at PART_LIMIT so one huge message cannot make an export too large.
 */
import * as z from "zod/mini";

const PART_LIMIT = 16 * 1024;

type Part =
  | { type: "text"; content: string }
  | { type: "tool_call"; id: string; name: string; arguments: string }
  | { type: "tool_call_response"; id: string; response: string }
  | { type: string };

interface Message {
  role: string;
  parts: Part[];
  finish_reason?: string;
}

function cut(text: string): string {
  return text.length > PART_LIMIT ? `${text.slice(0, PART_LIMIT)}…` : text;
}

const toolCall = z.object({ id: z.optional(z.string()), function: z.optional(z.object({ name: z.optional(z.string()), arguments: z.optional(z.string()) })) });
const contentPart = z.object({ type: z.string(), text: z.optional(z.string()) });
const chatMessage = z.object({
  role: z.string(),
  content: z.optional(z.nullable(z.union([z.string(), z.array(contentPart)]))),
  tool_calls: z.optional(z.nullable(z.array(toolCall))),
  tool_call_id: z.optional(z.string()),
});
const prompt = z.union([z.string(), z.array(z.string())]);
const requestBody = z.object({ messages: z.optional(z.array(chatMessage)), prompt: z.optional(prompt) });
const answerBody = z.object({
  choices: z.optional(
    z.array(z.object({ message: z.optional(chatMessage), text: z.optional(z.string()), finish_reason: z.optional(z.nullable(z.string())) })),
  ),
});

function partsOf(message: z.infer<typeof chatMessage>): Part[] {
  const parts: Part[] = [];
  const { content } = message;
  if (typeof content === "string") {
    if (message.role === "tool") parts.push({ type: "tool_call_response", id: message.tool_call_id ?? "", response: cut(content) });
    else parts.push({ type: "text", content: cut(content) });
  } else if (content) {
    for (const part of content) parts.push(part.type === "text" && part.text !== undefined ? { type: "text", content: cut(part.text) } : { type: part.type });
  }
  for (const call of message.tool_calls ?? []) {
    parts.push({ type: "tool_call", id: call.id ?? "", name: call.function?.name ?? "", arguments: cut(call.function?.arguments ?? "") });
  }
  return parts;
}

/** A chat body's messages, or a completion body's prompt as one user message; undefined for anything else. */
export function inputMessages(body: unknown): string | undefined {
  const parsed = z.safeParse(requestBody, body);
  if (!parsed.success) return undefined;
  const { messages, prompt: text } = parsed.data;
  if (messages) return JSON.stringify(messages.map((message): Message => ({ role: message.role, parts: partsOf(message) })));
  if (text === undefined) return undefined;
  const prompts = typeof text === "string" ? [text] : text;
  return JSON.stringify([{ role: "user", parts: prompts.map((entry) => ({ type: "text", content: cut(entry) })) }]);
}

/** A chat or text completion answer's choices, one output message each; undefined for anything else. */
export function outputMessages(answerText: string): string | undefined {
  let json: unknown;
  try {
    json = JSON.parse(answerText);
  } catch {
    return undefined;
  }
  const parsed = z.safeParse(answerBody, json);
  if (!parsed.success || !parsed.data.choices) return undefined;
  const messages = parsed.data.choices.map((choice): Message => {
    const parts = choice.message ? partsOf(choice.message) : choice.text !== undefined ? [{ type: "text", content: cut(choice.text) }] : [];
    const message: Message = { role: choice.message?.role ?? "assistant", parts };
    if (choice.finish_reason) message.finish_reason = choice.finish_reason;
    return message;
  });
  return JSON.stringify(messages);
}
