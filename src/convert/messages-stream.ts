/**
 * Chat completion chunks → Anthropic's Messages event stream: message_start, a ping, content blocks opened and
 * closed in index order (thinking, text, tool_use with input_json_delta), message_delta with the stop reason and
 * cumulative usage, message_stop. An origin failure mid-stream becomes `event: error`, and nothing follows it.
 *
 * A block cannot take deltas once it is stopped, and Anthropic's SDKs parse a tool block's arguments as they arrive.
 * Chat streams may interleave: parallel tool calls' argument pieces, or text between two pieces of one call. So a
 * tool_use block stays open until its arguments are one whole JSON value (or the choice finishes): text and other
 * calls that arrive meanwhile are held and follow it, each as a whole block. Only argument pieces that keep the
 * arguments valid JSON so far are sent; a call whose arguments turn invalid keeps what was valid (`input: {}` when
 * nothing was), as the JSON answer does. Text is held only while an unfinished call is open; otherwise every event
 * carries only its own delta, and nothing grows with the stream.
 */
import type { JsonObject } from "../http/body";
import { EventConverter } from "../upstream/stream-converter";
import { randomId, reasoningOf, type ChatChunk, type ChatDeltaToolCall, type ChatUsage } from "./chat-types";
import { jsonPrefix, type JsonPrefix } from "./json-prefix";
import { anthropicUsage, stopReasonOf } from "./messages-response";

type TextKind = "thinking" | "text";

interface ToolCall {
  id: string;
  name: string;
  arguments: JsonPrefix;
  /** Argument text not sent yet: kept only while the call waits behind another. */
  held: string;
  /** The block this call was sent as, once it was opened. */
  block?: number;
}

interface OpenBlock {
  kind: TextKind | "tool_use";
  index: number;
  tool?: ToolCall;
}

/** What arrived while an unfinished call's block was open, in the order it first appeared. */
type Held = { kind: TextKind; text: string } | { kind: "tool_use"; tool: ToolCall };

export class MessagesStreamConverter extends EventConverter {
  private started = false;
  private nextIndex = 0;
  private open: OpenBlock | null = null;
  private readonly tools = new Map<number, ToolCall>();
  private held: Held[] = [];
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

  /** An open tool_use block whose arguments are not whole yet: nothing else may open before it closes. */
  private get blocking(): boolean {
    return this.open?.tool?.arguments.progress === "partial";
  }

  private openBlock(kind: OpenBlock["kind"], out: string[], tool?: ToolCall): OpenBlock {
    this.closeBlock(out);
    const block: OpenBlock = { kind, index: this.nextIndex++, ...(tool ? { tool } : {}) };
    const contentBlock =
      kind === "thinking"
        ? { type: "thinking", thinking: "", signature: "" }
        : kind === "text"
          ? { type: "text", text: "" }
          : { type: "tool_use", id: tool?.id ?? randomId("toolu_"), name: tool?.name ?? "", input: {} };
    if (tool) tool.block = block.index;
    out.push(this.event("content_block_start", { index: block.index, content_block: contentBlock }));
    this.open = block;
    return block;
  }

  private closeBlock(out: string[]): void {
    if (!this.open) return;
    out.push(this.event("content_block_stop", { index: this.open.index }));
    this.open = null;
  }

  private textDelta(kind: TextKind, text: string, out: string[]): void {
    if (!this.blocking && this.held.length === 0) return this.sendText(kind, text, out);
    const last = this.held.at(-1);
    if (last?.kind === kind) last.text += text;
    else this.held.push({ kind, text });
  }

  private sendText(kind: TextKind, text: string, out: string[]): void {
    const block = this.open?.kind === kind ? this.open : this.openBlock(kind, out);
    const delta = kind === "thinking" ? { type: "thinking_delta", thinking: text } : { type: "text_delta", text };
    out.push(this.event("content_block_delta", { index: block.index, delta }));
  }

  /** Sends argument text for the open call's block as far as it keeps the arguments valid JSON. */
  private sendArguments(tool: ToolCall, fragment: string, out: string[]): void {
    if (fragment === "" || tool.arguments.progress === "invalid") return;
    const valid = tool.arguments.push(fragment) === "invalid" ? fragment.slice(0, tool.arguments.accepted) : fragment;
    if (valid !== "") out.push(this.event("content_block_delta", { index: tool.block, delta: { type: "input_json_delta", partial_json: valid } }));
  }

  private toolDelta(call: ChatDeltaToolCall, out: string[]): void {
    let tool = this.tools.get(call.index);
    if (!tool) {
      tool = { id: call.id ?? randomId("toolu_"), name: call.function?.name ?? "", arguments: jsonPrefix(), held: "" };
      this.tools.set(call.index, tool);
    }
    const fragment = call.function?.arguments ?? "";
    if (this.open?.tool === tool) return this.sendArguments(tool, fragment, out);
    // Its block was stopped with whole arguments: more text can only make them invalid.
    if (tool.block !== undefined) return;
    if (this.blocking || this.held.length > 0) {
      tool.held += fragment;
      if (!this.held.some((entry) => entry.kind === "tool_use" && entry.tool === tool)) this.held.push({ kind: "tool_use", tool });
      return;
    }
    this.openBlock("tool_use", out, tool);
    this.sendArguments(tool, fragment, out);
  }

  /** Sends what was held, in order, as far as it can go: all of it when `finishing`. */
  private release(out: string[], finishing: boolean): void {
    while (this.held.length > 0 && (finishing || !this.blocking)) {
      const next = this.held.shift() as Held;
      if (next.kind === "tool_use") {
        this.openBlock("tool_use", out, next.tool);
        const text = next.tool.held;
        next.tool.held = "";
        this.sendArguments(next.tool, text, out);
      } else this.sendText(next.kind, next.text, out);
    }
    if (finishing) this.closeBlock(out);
  }

  chunkEvents(chunk: ChatChunk): string[] {
    const out: string[] = [];
    if (chunk.usage) this.usage = chunk.usage;
    this.start(out);
    const choice = chunk.choices?.[0];
    if (!choice) return out;
    const delta = choice.delta ?? {};
    const reasoning = reasoningOf(delta);
    if (reasoning) this.textDelta("thinking", reasoning, out);
    if (typeof delta.content === "string" && delta.content !== "") this.textDelta("text", delta.content, out);
    for (const call of delta.tool_calls ?? []) this.toolDelta(call, out);
    this.release(out, false);
    if (choice.finish_reason) {
      this.finishReason = choice.finish_reason;
      this.stopReason = choice.stop_reason ?? null;
      this.release(out, true);
    }
    return out;
  }

  doneEvents(): string[] {
    const out: string[] = [];
    this.start(out);
    this.release(out, true);
    out.push(this.event("message_delta", { delta: stopReasonOf(this.finishReason, this.stopReason, this.stopSequences), usage: anthropicUsage(this.usage) }));
    out.push(this.event("message_stop"));
    return out;
  }

  failEvents(message: string): string[] {
    return [this.event("error", { error: { type: "api_error", message } })];
  }
}
