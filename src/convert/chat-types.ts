/** The parts of OpenAI chat-completion payloads the converters read. Origins may add fields; they are ignored. */

export interface ChatToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface ChatMessageOut {
  role?: string;
  content?: string | null;
  reasoning?: string | null;
  reasoning_content?: string | null;
  tool_calls?: ChatToolCall[] | null;
}

export interface ChatUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
}

export interface ChatCompletion {
  id?: string;
  created?: number;
  choices?: { index?: number; message?: ChatMessageOut; finish_reason?: string | null; stop_reason?: string | number | null }[];
  usage?: ChatUsage | null;
}

export interface ChatDeltaToolCall {
  index: number;
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

export interface ChatChunk {
  choices?: {
    index?: number;
    delta?: { role?: string; content?: string | null; reasoning?: string | null; reasoning_content?: string | null; tool_calls?: ChatDeltaToolCall[] };
    finish_reason?: string | null;
    stop_reason?: string | number | null;
  }[];
  usage?: ChatUsage | null;
}

/** A chat message sent to the origin. */
export interface ChatMessageIn {
  role: "system" | "user" | "assistant" | "tool";
  content?: string | ChatContentPart[] | null;
  reasoning?: string;
  tool_calls?: ChatToolCall[];
  tool_call_id?: string;
}

export type ChatContentPart =
  | { type: "text"; text: string }
  | { type: "image_url"; image_url: { url: string; detail?: string } }
  | { type: "input_audio"; input_audio: unknown };

/**
 * Reasoning text under either name vLLM has used: `reasoning_content` alone up to 0.11.0; both from 0.11.1
 * (vllm#27752: `reasoning_content` a deprecated copy of `reasoning`, so null where `reasoning` is unset); `reasoning`
 * alone from 0.16 (vllm#33402). The text counts once whichever name carries it; an empty or null one never hides
 * the other.
 */
export function reasoningOf(message: { reasoning?: string | null; reasoning_content?: string | null } | undefined): string | undefined {
  return nonEmpty(message?.reasoning) ?? nonEmpty(message?.reasoning_content);
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

export function randomId(prefix: string): string {
  return `${prefix}${crypto.randomUUID().replace(/-/g, "")}`;
}
