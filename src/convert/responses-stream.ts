/**
 * Chat completion chunks → the Responses event stream the official SDK's `responses.stream()` accepts: created,
 * in_progress, output items appended in order with their content parts and deltas, `.done` events, and a terminal
 * completed / incomplete — or `response.failed` with the partial output when the origin fails mid-stream.
 */
import type { JsonObject } from "../http/body";
import { EventConverter, LongText, sseEvent, type SseEvent } from "../upstream/stream-converter";
import { randomId, reasoningOf, type ChatChunk, type ChatDeltaToolCall, type ChatUsage } from "./chat-types";
import type { ResponsesFields } from "./responses-request";
import { finishStatus, functionCallItem, messageItem, reasoningItem, responseEnvelope, responsesUsage, type OutputItem } from "./responses-response";

/**
 * The closing events (`*.done`, `output_item.done`, `response.completed`) must each repeat an item's whole text or
 * arguments, so the wire carries a text five times (its deltas and four repeats) plus each event's framing. Memory
 * holds it once: items keep their text as a LongText, and events splice it in as the client reads.
 */
/** Texts longer than this (escaped characters, all items together) are streamed but not stored. */
const MAX_KEPT_CHARS = 1_500_000;

interface TextItem {
  kind: "message" | "reasoning";
  index: number;
  id: string;
  text: LongText;
}

interface CallItem {
  index: number;
  id: string;
  callId: string;
  name: string;
  args: LongText;
}

export class ResponsesStreamConverter extends EventConverter {
  private sequence = 0;
  private started = false;
  private readonly output: (OutputItem | null)[] = [];
  private openText: TextItem | null = null;
  private readonly calls = new Map<number, CallItem>();
  private finishReason: string | null = null;
  private usage: ChatUsage | null = null;
  private readonly envelope: JsonObject;
  /** The texts of closed items, which closing events and snapshots refer to. */
  private readonly texts: LongText[] = [];

  /**
   * `onCompleted` receives the finished Response object's JSON (texts spliced in) for the response store, or null
   * when its texts are too long to keep.
   */
  constructor(
    model: string,
    fields: ResponsesFields,
    private readonly onCompleted?: (responseJson: string | null) => void,
  ) {
    super();
    this.envelope = responseEnvelope(randomId("resp_"), Math.floor(Date.now() / 1000), model, fields);
  }

  /** A snapshot as JSON with its texts in place of their refs: built only for the store, and only when small. */
  private materialised(snapshot: JsonObject): string | null {
    let size = 0;
    for (const text of this.texts) for (const piece of text.escaped()) size += piece.length;
    if (size > MAX_KEPT_CHARS) return null;
    let json = JSON.stringify(snapshot);
    for (const text of this.texts) json = json.split(`"${text.ref}"`).join(`"${text.escaped().join("")}"`);
    return json;
  }

  /** A small event: deltas and openings, which hold no closed text. */
  private event(type: string, payload: JsonObject): string {
    return `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: this.sequence++, ...payload })}\n\n`;
  }

  /** An event that may repeat closed texts. */
  private closing(type: string, payload: JsonObject): SseEvent {
    return sseEvent(type, { type, sequence_number: this.sequence++, ...payload }, this.texts);
  }

  /** The response so far: items still open (null) are left out until they close, or fail as incomplete. */
  private snapshot(status: string, extra: JsonObject = {}): JsonObject {
    return { ...this.envelope, status, output: this.output.filter((item): item is OutputItem => item !== null), ...extra };
  }

  private start(out: SseEvent[]): void {
    if (this.started) return;
    this.started = true;
    out.push(this.event("response.created", { response: this.snapshot("in_progress") }));
    out.push(this.event("response.in_progress", { response: this.snapshot("in_progress") }));
  }

  private openTextItem(kind: TextItem["kind"], out: SseEvent[]): TextItem {
    if (this.openText?.kind === kind) return this.openText;
    this.closeText(out);
    const id = randomId(kind === "message" ? "msg_" : "rs_");
    const item: TextItem = { kind, index: this.output.length, id, text: new LongText() };
    const added: OutputItem = kind === "message" ? { id, type: "message", role: "assistant", status: "in_progress", content: [] } : { id, type: "reasoning", summary: [], content: [], status: "in_progress" };
    this.output.push(null);
    out.push(this.event("response.output_item.added", { output_index: item.index, item: added }));
    const part = kind === "message" ? { type: "output_text", text: "", annotations: [], logprobs: [] } : { type: "reasoning_text", text: "" };
    out.push(this.event("response.content_part.added", { item_id: id, output_index: item.index, content_index: 0, part }));
    this.openText = item;
    return item;
  }

  private closeText(out: SseEvent[]): void {
    const item = this.openText;
    if (!item) return;
    this.openText = null;
    this.texts.push(item.text);
    const text = item.text.ref;
    const done = item.kind === "message" ? messageItem(item.id, text, "completed") : reasoningItem(item.id, text, "completed");
    const where = { item_id: item.id, output_index: item.index, content_index: 0 };
    if (item.kind === "message") {
      out.push(this.closing("response.output_text.done", { ...where, text, logprobs: [] }));
      out.push(this.closing("response.content_part.done", { ...where, part: { type: "output_text", text, annotations: [], logprobs: [] } }));
    } else {
      out.push(this.closing("response.reasoning_text.done", { ...where, text }));
      out.push(this.closing("response.content_part.done", { ...where, part: { type: "reasoning_text", text } }));
    }
    this.output[item.index] = done;
    out.push(this.closing("response.output_item.done", { output_index: item.index, item: done }));
  }

  chunkEvents(chunk: ChatChunk): SseEvent[] {
    const out: SseEvent[] = [];
    this.start(out);
    if (chunk.usage) this.usage = chunk.usage;
    const choice = chunk.choices?.[0];
    if (!choice) return out;
    const delta = choice.delta ?? {};
    const reasoning = reasoningOf(delta);
    if (reasoning) {
      const item = this.openTextItem("reasoning", out);
      item.text.append(reasoning);
      out.push(this.event("response.reasoning_text.delta", { item_id: item.id, output_index: item.index, content_index: 0, delta: reasoning }));
    }
    if (typeof delta.content === "string" && delta.content !== "") {
      const item = this.openTextItem("message", out);
      item.text.append(delta.content);
      out.push(this.event("response.output_text.delta", { item_id: item.id, output_index: item.index, content_index: 0, delta: delta.content, logprobs: [] }));
    }
    for (const call of delta.tool_calls ?? []) this.toolCallDelta(call, out);
    if (choice.finish_reason) this.finishReason = choice.finish_reason;
    return out;
  }

  private toolCallDelta(call: ChatDeltaToolCall, out: SseEvent[]): void {
    let item = this.calls.get(call.index);
    if (!item) {
      this.closeText(out);
      item = { index: this.output.length, id: randomId("fc_"), callId: call.id ?? randomId("call_"), name: call.function?.name ?? "", args: new LongText() };
      this.calls.set(call.index, item);
      this.output.push(null);
      out.push(this.event("response.output_item.added", { output_index: item.index, item: functionCallItem(item.id, item.callId, item.name, "", "in_progress") }));
    }
    const fragment = call.function?.arguments ?? "";
    if (fragment !== "") {
      item.args.append(fragment);
      out.push(this.event("response.function_call_arguments.delta", { item_id: item.id, output_index: item.index, delta: fragment }));
    }
  }

  doneEvents(): SseEvent[] {
    const out: SseEvent[] = [];
    this.start(out);
    // A response with neither text nor a call still carries an (empty) message, so output_text is "".
    if (this.output.length === 0) this.openTextItem("message", out);
    this.closeText(out);
    for (const item of [...this.calls.values()].sort((a, b) => a.index - b.index)) {
      this.texts.push(item.args);
      const done = functionCallItem(item.id, item.callId, item.name, item.args.ref, "completed");
      this.output[item.index] = done;
      out.push(this.closing("response.function_call_arguments.done", { item_id: item.id, output_index: item.index, name: item.name, arguments: item.args.ref }));
      out.push(this.closing("response.output_item.done", { output_index: item.index, item: done }));
    }
    const { status, incomplete_details } = finishStatus(this.finishReason);
    const type = status === "incomplete" ? "response.incomplete" : "response.completed";
    const final = this.snapshot(status, { incomplete_details, usage: responsesUsage(this.usage) });
    this.onCompleted?.(this.materialised(final));
    out.push(this.closing(type, { response: final }));
    return out;
  }

  failEvents(message: string): SseEvent[] {
    const out: SseEvent[] = [];
    if (!this.started) {
      out.push(this.event("error", { code: "server_error", message, param: null }));
      return out;
    }
    // Items still open are part of the partial output, marked incomplete, with no `.done` events of their own.
    const open = this.openText;
    if (open) {
      this.openText = null;
      this.texts.push(open.text);
      this.output[open.index] = open.kind === "message" ? messageItem(open.id, open.text.ref, "incomplete") : reasoningItem(open.id, open.text.ref, "incomplete");
    }
    for (const item of this.calls.values()) {
      if (this.output[item.index] !== null) continue;
      this.texts.push(item.args);
      this.output[item.index] = functionCallItem(item.id, item.callId, item.name, item.args.ref, "incomplete");
    }
    out.push(this.closing("response.failed", { response: this.snapshot("failed", { error: { code: "server_error", message }, usage: responsesUsage(this.usage) }) }));
    return out;
  }
}
