/**
 * Chat completion chunks → Anthropic's Messages event stream: message_start, a ping, content blocks opened and
 * closed in index order (thinking, text, tool_use with input_json_delta), message_delta with the stop reason and
 * cumulative usage, message_stop. An origin failure mid-stream becomes `event: error`, and nothing follows it.
 */
import type { JsonObject } from "../http/body";
import { EventConverter } from "../upstream/stream-converter";
import { randomId, reasoningOf, type ChatChunk, type ChatDeltaToolCall, type ChatUsage } from "./chat-types";
import { anthropicUsage, stopReasonOf } from "./messages-response";

type BlockKind = "thinking" | "text" | "tool_use";

interface OpenBlock {
  kind: BlockKind;
  index: number;
  /** For tool_use blocks: the chat tool_calls index feeding it. */
  toolIndex?: number;
}

/** Every event carries only its own delta, so nothing grows with the stream: no text is kept. */
export class MessagesStreamConverter extends EventConverter {
  private started = false;
  private nextIndex = 0;
  private open: OpenBlock | null = null;
  private finishReason: string | null = null;
  private stopReason: unknown = null;
  private usage: ChatUsage | null = null;
  private readonly id = randomId("msg_");

  constructor(
    private readonly model: string,
    private readonly stopSequences: readonly string[] | null | undefined,
  ) {
    super();
  }

  private event(type: string, payload: JsonObject = {}): string {
    return `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;
  }

  private start(out: string[]): void {
    if (this.started) return;
    this.started = true;
    const message = { id: this.id, type: "message", role: "assistant", model: this.model, content: [], stop_reason: null, stop_sequence: null, usage: anthropicUsage(this.usage) };
    out.push(this.event("message_start", { message }), this.event("ping"));
  }

  private openBlock(kind: BlockKind, out: string[], toolCall?: ChatDeltaToolCall): OpenBlock {
    if (this.open && this.open.kind === kind && (kind !== "tool_use" || this.open.toolIndex === toolCall?.index)) return this.open;
    this.closeBlock(out);
    const block: OpenBlock = { kind, index: this.nextIndex++, ...(toolCall ? { toolIndex: toolCall.index } : {}) };
    const contentBlock =
      kind === "thinking"
        ? { type: "thinking", thinking: "", signature: "" }
        : kind === "text"
          ? { type: "text", text: "" }
          : { type: "tool_use", id: toolCall?.id ?? randomId("toolu_"), name: toolCall?.function?.name ?? "", input: {} };
    out.push(this.event("content_block_start", { index: block.index, content_block: contentBlock }));
    this.open = block;
    return block;
  }

  private closeBlock(out: string[]): void {
    if (!this.open) return;
    out.push(this.event("content_block_stop", { index: this.open.index }));
    this.open = null;
  }

  chunkEvents(chunk: ChatChunk): string[] {
    const out: string[] = [];
    if (chunk.usage) this.usage = chunk.usage;
    this.start(out);
    const choice = chunk.choices?.[0];
    if (!choice) return out;
    const delta = choice.delta ?? {};
    const reasoning = reasoningOf(delta);
    if (reasoning) {
      const block = this.openBlock("thinking", out);
      out.push(this.event("content_block_delta", { index: block.index, delta: { type: "thinking_delta", thinking: reasoning } }));
    }
    if (typeof delta.content === "string" && delta.content !== "") {
      const block = this.openBlock("text", out);
      out.push(this.event("content_block_delta", { index: block.index, delta: { type: "text_delta", text: delta.content } }));
    }
    for (const call of delta.tool_calls ?? []) {
      // A new tool index opens a new block; fragments for the open one continue it.
      const block = call.id !== undefined || this.open?.toolIndex !== call.index ? this.openBlock("tool_use", out, call) : this.open;
      const fragment = call.function?.arguments ?? "";
      if (block && fragment !== "") out.push(this.event("content_block_delta", { index: block.index, delta: { type: "input_json_delta", partial_json: fragment } }));
    }
    if (choice.finish_reason) {
      this.finishReason = choice.finish_reason;
      this.stopReason = choice.stop_reason ?? null;
      this.closeBlock(out);
    }
    return out;
  }

  doneEvents(): string[] {
    const out: string[] = [];
    this.start(out);
    this.closeBlock(out);
    out.push(this.event("message_delta", { delta: stopReasonOf(this.finishReason, this.stopReason, this.stopSequences), usage: anthropicUsage(this.usage) }));
    out.push(this.event("message_stop"));
    return out;
  }

  failEvents(message: string): string[] {
    return [this.event("error", { error: { type: "api_error", message } })];
  }
}
