/**
 * Reasoning in either spelling, the pure pieces: the exact rename, the chat relay with and without a chosen name,
 * and the Responses and Messages converters fed `reasoning`, `reasoning_content` or both.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ChatChunk, ChatCompletion } from "../../src/convert/chat-types";
import { chatToMessage } from "../../src/convert/messages-response";
import { MessagesStreamConverter } from "../../src/convert/messages-stream";
import { chatToResponse } from "../../src/convert/responses-response";
import { responsesToChat } from "../../src/convert/responses-request";
import { ResponsesStreamConverter } from "../../src/convert/responses-stream";
import { renameReasoningInJson, type ReasoningField } from "../../src/upstream/reasoning-field";
import { SseRelay, type RelaySummary } from "../../src/upstream/sse-relay";

const neverParsed = () => {
  throw new Error("parsed a payload that needed no rename");
};

describe("renameReasoningInJson", () => {
  it("renames a delta's or message's member in place, both ways, and nothing else", () => {
    const legacy = '{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"hm","content":null}}]}';
    const renamed = renameReasoningInJson(legacy, "reasoning", () => JSON.parse(legacy));
    expect(renamed).toBe('{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","reasoning":"hm","content":null}}]}');
    expect(renameReasoningInJson(renamed, "reasoning_content", () => JSON.parse(renamed))).toBe(legacy);
    const answer = '{"choices":[{"index":0,"message":{"role":"assistant","content":"hi","reasoning":"why"}}],"usage":{"prompt_tokens":1}}';
    expect(renameReasoningInJson(answer, "reasoning_content", () => JSON.parse(answer))).toBe(
      '{"choices":[{"index":0,"message":{"role":"assistant","content":"hi","reasoning_content":"why"}}],"usage":{"prompt_tokens":1}}',
    );
  });

  it("returns the very same string, unparsed, when the other name is not a member anywhere", () => {
    for (const json of [
      '{"choices":[{"delta":{"content":"hello"}}]}',
      '{"choices":[{"delta":{"reasoning":"already"}}]}',
      // Text that spells the name, quotes and all, is escaped inside its string: it cannot look like a member.
      '{"choices":[{"delta":{"content":"set \\"reasoning_content\\": 1 and \\"reasoning\\": 2"}}]}',
    ]) {
      expect(renameReasoningInJson(json, "reasoning", neverParsed)).toBe(json);
    }
    const json = '{"choices":[{"delta":{"content":"say \\"reasoning\\": x"}}]}';
    expect(renameReasoningInJson(json, "reasoning_content", neverParsed)).toBe(json);
  });

  it("leaves a string that is exactly the other name, and members outside messages and deltas, untouched", () => {
    const json = '{"extra":{"reasoning_content":"x"},"choices":[{"delta":{"content":"reasoning_content"},"logprobs":{"reasoning_content":1}}]}';
    expect(renameReasoningInJson(json, "reasoning", () => JSON.parse(json))).toBe(json);
  });

  it("keeps one member when vLLM 0.11.1-0.15 sends both names", () => {
    const both = '{"choices":[{"delta":{"reasoning":"r","reasoning_content":"r"}}]}';
    expect(renameReasoningInJson(both, "reasoning", () => JSON.parse(both))).toBe('{"choices":[{"delta":{"reasoning":"r"}}]}');
    expect(renameReasoningInJson(both, "reasoning_content", () => JSON.parse(both))).toBe('{"choices":[{"delta":{"reasoning_content":"r"}}]}');
    const nulled = '{"choices":[{"delta":{"content":"a","reasoning_content":null}}]}';
    expect(renameReasoningInJson(nulled, "reasoning", () => JSON.parse(nulled))).toBe('{"choices":[{"delta":{"content":"a","reasoning":null}}]}');
    // The chosen name takes the text whichever of the two carries it.
    const split = '{"choices":[{"delta":{"reasoning":null,"reasoning_content":"t"}}]}';
    expect(renameReasoningInJson(split, "reasoning", () => JSON.parse(split))).toBe('{"choices":[{"delta":{"reasoning":"t"}}]}');
  });

  it("keeps a __proto__ member a member", () => {
    const json = '{"choices":[{"delta":{"__proto__":{"x":1},"reasoning_content":"r"}}]}';
    expect(renameReasoningInJson(json, "reasoning", () => JSON.parse(json))).toBe('{"choices":[{"delta":{"__proto__":{"x":1},"reasoning":"r"}}]}');
  });
});

function streamOf(parts: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    pull(controller) {
      const next = parts.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(encoder.encode(next));
    },
  });
}

async function relay(parts: string[], options: { reasoningField?: ReasoningField; served?: string } = {}) {
  let summary: RelaySummary | undefined;
  const r = new SseRelay(streamOf([...parts]), {
    servedModel: options.served ?? "m",
    publicModel: "m",
    dropUsageOnlyChunk: false,
    idleTimeoutMs: 1000,
    keepAliveMs: 60_000,
    abortUpstream: () => undefined,
    onEnd: (s) => (summary = s),
    reasoningField: options.reasoningField,
  });
  await r.open();
  return { text: await new Response(r.stream).text(), summary };
}

const chunk = (delta: Record<string, unknown>) => `data: ${JSON.stringify({ id: "c", model: "m", choices: [{ index: 0, delta }] })}\n\n`;

describe("the chat relay and the reasoning field", () => {
  afterEach(() => vi.restoreAllMocks());

  const legacy = [": hello\n\n", chunk({ role: "assistant", content: "" }), "event: x\ndata:" + chunk({ reasoning_content: "a" }).slice(5), chunk({ content: 'b "reasoning_content"' }), "data: [DONE]\n\n"];

  it("relays every byte as sent, parsing nothing, when no name is chosen", async () => {
    const parse = vi.spyOn(JSON, "parse");
    const { text } = await relay(legacy);
    expect(parse).not.toHaveBeenCalled();
    expect(text).toBe(legacy.join(""));
  });

  it("renames only the reasoning deltas, both ways, keeping event lines, comments and other chunks byte for byte", async () => {
    const { text } = await relay(legacy, { reasoningField: "reasoning" });
    expect(text).toBe([legacy[0], legacy[1], `event: x\ndata: ${JSON.stringify({ id: "c", model: "m", choices: [{ index: 0, delta: { reasoning: "a" } }] })}\n\n`, legacy[3], legacy[4]].join(""));
    const back = await relay([text], { reasoningField: "reasoning_content" });
    expect(back.text).toBe(text.replace('"reasoning":"a"', '"reasoning_content":"a"'));
  });

  it("renames after restoring the model name, in whitespace-formatted chunks too", async () => {
    const spaced = `data: ${JSON.stringify({ model: "served", choices: [{ delta: { reasoning_content: "a" } }] }, null, 1).replace(/\n/g, "")}\n\n`;
    const { text } = await relay([spaced, "data: [DONE]\n\n"], { reasoningField: "reasoning", served: "served" });
    expect(text).toBe(`data: ${JSON.stringify({ model: "m", choices: [{ delta: { reasoning: "a" } }] })}\n\ndata: [DONE]\n\n`);
  });

  it("counts a cut stream's chunks the same whichever spelling, renamed or not", async () => {
    const cut = (delta: (t: string) => Record<string, unknown>) => [chunk({ role: "assistant" }), ...["a", "b", "c"].map((t) => chunk(delta(t)))];
    const counts = await Promise.all([
      relay(cut((t) => ({ reasoning: t }))),
      relay(cut((t) => ({ reasoning_content: t }))),
      relay(cut((t) => ({ reasoning: t, reasoning_content: t }))),
      relay(cut((t) => ({ reasoning_content: t })), { reasoningField: "reasoning" }),
      relay(cut((t) => ({ reasoning: t })), { reasoningField: "reasoning_content" }),
    ]);
    for (const { summary } of counts) expect(summary).toMatchObject({ outcome: "truncated", dataEvents: 4 });
  });
});

type Spell = (text: string) => { reasoning?: string | null; reasoning_content?: string | null };
const SPELLINGS: Record<string, Spell> = {
  reasoning: (text) => ({ reasoning: text }),
  reasoning_content: (text) => ({ reasoning_content: text }),
  both: (text) => ({ reasoning: text, reasoning_content: text }),
  "empty reasoning beside reasoning_content": (text) => ({ reasoning: "", reasoning_content: text }),
};

function chunks(spell: Spell): ChatChunk[] {
  return [
    { choices: [{ delta: { role: "assistant", content: "" } }] },
    { choices: [{ delta: spell("Let me ") }] },
    { choices: [{ delta: spell("think.") }] },
    { choices: [{ delta: { content: "Hi." } }] },
    { choices: [{ delta: {}, finish_reason: "stop" }] },
    { choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } },
  ];
}

const completion = (spell: Spell): ChatCompletion => ({ choices: [{ message: { role: "assistant", content: "Hi.", ...spell("Let me think.") }, finish_reason: "stop" }], usage: { prompt_tokens: 3, completion_tokens: 4 } });

/** Random ids and clock readings apart, two outputs must be the same. */
function normalised(value: unknown): string {
  return JSON.stringify(value)
    .replace(/\b(resp|rs|msg|fc|toolu)_[0-9a-f]{32}\b/g, "$1_ID")
    .replace(/\\?"created_at\\?":\d+/g, "created_at");
}

describe("converters read either spelling the same way", () => {
  const { fields } = responsesToChat({ model: "m", input: "hi" });
  const outputs = Object.values(SPELLINGS).map((spell) => {
    const responses = new ResponsesStreamConverter("m", fields);
    const messages = new MessagesStreamConverter("m", null);
    return {
      responsesStream: normalised([...chunks(spell).flatMap((c) => responses.chunk(c)), ...responses.done()]),
      messagesStream: normalised([...chunks(spell).flatMap((c) => messages.chunk(c)), ...messages.done()]),
      response: normalised(chatToResponse(completion(spell), "m", fields)),
      message: normalised(chatToMessage(completion(spell), "m", null)),
    };
  });

  it("produces identical Responses and Messages answers and streams", () => {
    for (const output of outputs.slice(1)) expect(output).toEqual(outputs[0]);
  });

  it("carries the reasoning once, as a reasoning item and a thinking block", () => {
    const [first] = outputs;
    expect(first?.response).toContain('{"type":"reasoning_text","text":"Let me think."}');
    expect(first?.message).toContain('{"type":"thinking","thinking":"Let me think.","signature":""}');
    expect(first?.responsesStream.match(/event: response\.reasoning_text\.delta/g)).toHaveLength(2);
    expect(first?.messagesStream.match(/thinking_delta/g)).toHaveLength(2);
  });
});
