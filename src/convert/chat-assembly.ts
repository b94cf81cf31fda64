/**
 * Chat completion chunks → the `chat.completion` vLLM answers without `stream`: per choice, the role, the content,
 * the reasoning under the name the origin used (`reasoning`, or older vLLM's `reasoning_content`), the tool calls
 * with their streamed arguments, the logprobs, the finish and stop reasons; the usage chunk's usage. Every text is
 * kept as its deltas and joined once at the end, so a long answer costs its length, not its length squared.
 */
import { isJsonObject, type JsonObject } from "../http/body";
import { randomId } from "./chat-types";
import { ChoiceTable, Envelope, Finish, choicesOf, pushAll, type Assembler } from "./assembly";

/** The two names vLLM has given reasoning text, in deltas and messages alike. */
const REASONING_NAMES = ["reasoning", "reasoning_content"] as const;
type ReasoningName = (typeof REASONING_NAMES)[number];

interface ToolCallParts {
  id: string | undefined;
  type: string | undefined;
  name: string | undefined;
  arguments: string[];
}

interface ChatChoiceParts {
  index: number;
  role: string | undefined;
  content: string[];
  reasoning: Map<ReasoningName, string[]>;
  toolCalls: ChoiceTable<ToolCallParts>;
  /** Null until a chunk carries a logprobs object (the request asked for them). */
  logprobs: unknown[] | null;
  finish: Finish;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export class ChatAssembler implements Assembler {
  private readonly envelope = new Envelope();
  private readonly choices = new ChoiceTable<ChatChoiceParts>((index) => ({
    index,
    role: undefined,
    content: [],
    reasoning: new Map(),
    toolCalls: new ChoiceTable((): ToolCallParts => ({ id: undefined, type: undefined, name: undefined, arguments: [] })),
    logprobs: null,
    finish: new Finish(),
  }));

  /** `forcedToolChoice`: see StreamedJson. */
  constructor(private readonly forcedToolChoice: boolean) {}

  add(chunk: JsonObject): void {
    this.envelope.add(chunk);
    for (const choice of choicesOf(chunk)) {
      const parts = this.choices.get(choice.index);
      if (isJsonObject(choice.delta)) this.addDelta(parts, choice.delta);
      if (isJsonObject(choice.logprobs)) {
        parts.logprobs ??= [];
        pushAll(parts.logprobs, choice.logprobs.content);
      }
      parts.finish.add(choice);
    }
  }

  private addDelta(parts: ChatChoiceParts, delta: JsonObject): void {
    parts.role ??= text(delta.role);
    const content = text(delta.content);
    if (content) parts.content.push(content);
    for (const name of REASONING_NAMES) {
      if (!(name in delta)) continue;
      const list = parts.reasoning.get(name) ?? [];
      parts.reasoning.set(name, list);
      const piece = text(delta[name]);
      if (piece) list.push(piece);
    }
    if (!Array.isArray(delta.tool_calls)) return;
    for (const call of delta.tool_calls) {
      if (!isJsonObject(call) || typeof call.index !== "number" || !Number.isInteger(call.index)) continue;
      const toolCall = parts.toolCalls.get(call.index);
      toolCall.id ??= text(call.id);
      toolCall.type ??= text(call.type);
      const fn = isJsonObject(call.function) ? call.function : {};
      // The name comes whole in the call's first delta; the arguments come in pieces.
      if (!toolCall.name) toolCall.name = text(fn.name);
      const args = text(fn.arguments);
      if (args) toolCall.arguments.push(args);
    }
  }

  answer(): JsonObject {
    return this.envelope.answer("chat.completion", this.choices.ordered().map((parts) => this.choice(parts)));
  }

  private choice(parts: ChatChoiceParts): JsonObject {
    const toolCalls = parts.toolCalls.ordered().map((call) => ({
      id: call.id ?? randomId("chatcmpl-tool-"),
      type: call.type ?? "function",
      function: { name: call.name ?? "", arguments: call.arguments.join("") },
    }));
    const message: JsonObject = { role: parts.role ?? "assistant", content: this.content(parts, toolCalls.length > 0) };
    // The name(s) the origin streamed. vLLM's answer has `reasoning` (null when there is none) unless it is a
    // version from before the rename, recognisable only by reasoning text under the old name alone.
    const joined = (name: ReasoningName) => {
      const pieces = parts.reasoning.get(name) ?? [];
      return pieces.length > 0 ? pieces.join("") : null;
    };
    const legacy = !parts.reasoning.has("reasoning") && joined("reasoning_content") !== null;
    if (!legacy) message.reasoning = joined("reasoning");
    if (parts.reasoning.has("reasoning_content")) message.reasoning_content = joined("reasoning_content");
    message.tool_calls = toolCalls;
    return {
      index: parts.index,
      message,
      logprobs: parts.logprobs === null ? null : { content: parts.logprobs },
      finish_reason: parts.finish.reason,
      stop_reason: parts.finish.stopReason,
    };
  }

  /**
   * The stream opens every choice with `content: ""`, so "no content" must be told apart as vLLM's JSON answer
   * does: "" beside forced tool calls, null beside tool calls its parser found or reasoning with no answer after it,
   * and "" for an empty generation.
   */
  private content(parts: ChatChoiceParts, hasToolCalls: boolean): string | null {
    if (parts.content.length > 0) return parts.content.join("");
    if (this.forcedToolChoice) return "";
    const reasoned = [...parts.reasoning.values()].some((pieces) => pieces.length > 0);
    return hasToolCalls || reasoned ? null : "";
  }
}
