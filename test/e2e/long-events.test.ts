/**
 * Responses closing events that repeat long texts are spliced from pieces as the client reads them (see
 * stream-memory.test.ts for the memory side). Here: what the client gets is exactly the events a whole-string
 * build would give — valid JSON, gapless sequence numbers, every repeat equal to its deltas — for texts longer than
 * a piece, with escapes and a surrogate pair split across a piece boundary, mid-stream (reasoning closed by the
 * answer) and in response.failed.
 */
import { describe, expect, it } from "vitest";
import type { ChatChunk } from "../../src/convert/chat-types";
import { responsesToChat } from "../../src/convert/responses-request";
import { ResponsesStreamConverter } from "../../src/convert/responses-stream";
import { SseRelay } from "../../src/upstream/sse-relay";

const PIECE = 64 * 1024;
// The first delta fills a piece and ends on the high half of an emoji: the piece boundary splits the pair.
const reasoningDeltas = [`${"r".repeat(PIECE - 1)}\ud83d`, "\ude00 then more", ` ${"thinking, ".repeat(9000)}`];
const contentDeltas = Array.from({ length: 300 }, (_, i) => `line ${i}: "quoted" \\ back\\slash\ttab\nnewline é 中文 🎉 ${"x".repeat(500)}\n`);
const argDeltas = ['{"path":"a.txt","content":"', ...Array.from({ length: 200 }, () => "y".repeat(400)), '"}'];
const reasoning = reasoningDeltas.join("");
const content = contentDeltas.join("");
const args = argDeltas.join("");

const chunks: ChatChunk[] = [
  { choices: [{ delta: { role: "assistant", content: "" } }] },
  ...reasoningDeltas.map((text): ChatChunk => ({ choices: [{ delta: { reasoning: text } }] })),
  ...contentDeltas.map((text): ChatChunk => ({ choices: [{ delta: { content: text } }] })),
  { choices: [{ delta: { tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "write", arguments: "" } }] } }] },
  ...argDeltas.map((text): ChatChunk => ({ choices: [{ delta: { tool_calls: [{ index: 0, function: { arguments: text } }] } }] })),
  { choices: [{ delta: {}, finish_reason: "tool_calls" }] },
  { choices: [], usage: { prompt_tokens: 3, completion_tokens: 900, total_tokens: 903 } },
];

interface Event {
  event: string;
  data: Record<string, unknown>;
}

function parse(text: string): Event[] {
  return text
    .split("\n\n")
    .filter((frame) => frame !== "")
    .map((frame) => {
      const [eventLine, dataLine, ...rest] = frame.split("\n");
      expect(rest).toEqual([]);
      return { event: (eventLine ?? "").slice("event: ".length), data: JSON.parse((dataLine ?? "").slice("data: ".length)) as Record<string, unknown> };
    });
}

/** Runs chat chunks through the relay with a Responses converter; `done` false cuts the origin off before [DONE]. */
async function relayed(events: ChatChunk[], done: boolean): Promise<{ text: string; largestChunk: number }> {
  const frames = events.map((chunk) => `data: ${JSON.stringify(chunk)}\n\n`).concat(done ? ["data: [DONE]\n\n"] : []);
  const encoder = new TextEncoder();
  const origin = new ReadableStream<Uint8Array>({
    pull(controller) {
      const frame = frames.shift();
      if (frame === undefined) controller.close();
      else controller.enqueue(encoder.encode(frame));
    },
  });
  const { fields } = responsesToChat({ model: "vllm/m", input: "x", stream: true });
  const relay = new SseRelay(origin, {
    servedModel: "m",
    publicModel: "vllm/m",
    dropUsageOnlyChunk: false,
    idleTimeoutMs: 10_000,
    keepAliveMs: 10_000,
    abortUpstream: () => undefined,
    converter: new ResponsesStreamConverter("vllm/m", fields),
  });
  await relay.open();
  const reader = relay.stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let largestChunk = 0;
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    largestChunk = Math.max(largestChunk, read.value.length);
    text += decoder.decode(read.value, { stream: true });
  }
  return { text: text + decoder.decode(), largestChunk };
}

const textOf = (event: Event | undefined, key: string): unknown => event?.data[key];
const find = (events: Event[], name: string, index: number) => events.find((e) => e.event === name && e.data.output_index === index);

describe("Responses closing events spliced from pieces", () => {
  it("repeat each long text exactly, escapes and split surrogate pairs included", async () => {
    const { text, largestChunk } = await relayed(chunks, true);
    const events = parse(text);
    expect(events.map((e) => e.data.sequence_number)).toEqual(events.map((_, i) => i));
    expect([events[0]?.event, events.at(-1)?.event]).toEqual(["response.created", "response.completed"]);
    expect(events.filter((e) => e.data.type !== e.event)).toEqual([]);
    // The relay hands them out a piece at a time (64 K characters, at most 3 bytes each, plus one small event).
    expect(largestChunk).toBeLessThan(4 * PIECE);

    const deltas = (name: string, index: number) =>
      events
        .filter((e) => e.event === name && e.data.output_index === index)
        .map((e) => e.data.delta)
        .join("");
    expect(deltas("response.reasoning_text.delta", 0)).toBe(reasoning);
    expect(deltas("response.output_text.delta", 1)).toBe(content);
    expect(deltas("response.function_call_arguments.delta", 2)).toBe(args);

    expect(textOf(find(events, "response.reasoning_text.done", 0), "text")).toBe(reasoning);
    expect(textOf(find(events, "response.content_part.done", 0), "part")).toEqual({ type: "reasoning_text", text: reasoning });
    expect(textOf(find(events, "response.output_text.done", 1), "text")).toBe(content);
    expect(textOf(find(events, "response.content_part.done", 1), "part")).toEqual({ type: "output_text", text: content, annotations: [], logprobs: [] });
    expect(textOf(find(events, "response.function_call_arguments.done", 2), "arguments")).toBe(args);
    // The reasoning item closes mid-stream, when the answer starts: before the message's first event.
    const reasoningDone = events.findIndex((e) => e.event === "response.output_item.done" && e.data.output_index === 0);
    const messageAdded = events.findIndex((e) => e.event === "response.output_item.added" && e.data.output_index === 1);
    expect(reasoningDone).toBeLessThan(messageAdded);

    const items = [0, 1, 2].map((index) => textOf(find(events, "response.output_item.done", index), "item"));
    const completed = events.at(-1);
    expect(completed?.event).toBe("response.completed");
    const response = completed?.data.response as { output: unknown[]; usage: { total_tokens: number } };
    expect(response.output).toEqual(items);
    expect(response.output).toMatchObject([
      { type: "reasoning", content: [{ type: "reasoning_text", text: reasoning }] },
      { type: "message", content: [{ type: "output_text", text: content }] },
      { type: "function_call", call_id: "call_a", name: "write", arguments: args, status: "completed" },
    ]);
    expect(response.usage.total_tokens).toBe(903);
  });

  it("match the whole-string events the converter gives its callers", async () => {
    const { fields } = responsesToChat({ model: "vllm/m", input: "x", stream: true });
    const converter = new ResponsesStreamConverter("vllm/m", fields);
    const whole = parse([...chunks.flatMap((chunk) => converter.chunk(chunk)), ...converter.done()].join(""));
    const streamed = parse((await relayed(chunks, true)).text);
    // Ids and timestamps are random per converter; everything else is the same.
    const shape = (events: Event[]) => JSON.stringify(events).replace(/"(resp|msg|rs|fc)_[0-9a-f]{32}"/g, '"id"').replace(/"created_at":\d+/g, "");
    expect(shape(streamed)).toBe(shape(whole));
  });

  it("carry a long closed item, and the one still open, into response.failed when the origin is cut off", async () => {
    const cut = chunks.slice(0, 1 + reasoningDeltas.length + 10);
    const events = parse((await relayed(cut, false)).text);
    const failed = events.at(-1);
    expect(failed?.event).toBe("response.failed");
    expect(failed?.data.response).toMatchObject({
      status: "failed",
      error: { code: "server_error" },
      output: [
        { type: "reasoning", status: "completed", content: [{ type: "reasoning_text", text: reasoning }] },
        { type: "message", status: "incomplete", content: [{ type: "output_text", text: contentDeltas.slice(0, 10).join("") }] },
      ],
    });
  });
});
