/** The pure Responses⇄chat and Messages⇄chat converters, on their own. */
import { describe, expect, it } from "vitest";
import type { ChatChunk } from "../../src/convert/chat-types";
import { messagesToChat } from "../../src/convert/messages-request";
import { chatToMessage } from "../../src/convert/messages-response";
import { jsonPrefix } from "../../src/convert/json-prefix";
import { MessagesStreamConverter } from "../../src/convert/messages-stream";
import { responsesToChat } from "../../src/convert/responses-request";
import { chatToResponse } from "../../src/convert/responses-response";
import { ResponsesStreamConverter } from "../../src/convert/responses-stream";
import { GatewayError } from "../../src/http/errors";
import { configure, eventually, gateway, origin, postJson, quota, virtualKey } from "./helpers";

function events(frames: string[]): { event: string; data: Record<string, unknown> }[] {
  return frames.map((frame) => {
    const [eventLine, dataLine] = frame.trim().split("\n");
    return { event: (eventLine ?? "").slice("event: ".length), data: JSON.parse((dataLine ?? "").slice("data: ".length)) as Record<string, unknown> };
  });
}

const toolStream: ChatChunk[] = [
  { choices: [{ delta: { role: "assistant", content: "" } }] },
  { choices: [{ delta: { reasoning: "thinking " } }] },
  { choices: [{ delta: { content: "Let me check." } }] },
  { choices: [{ delta: { tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "lookup", arguments: "" } }] } }] },
  { choices: [{ delta: { tool_calls: [{ index: 0, function: { arguments: '{"q":' } }] } }] },
  { choices: [{ delta: { tool_calls: [{ index: 0, function: { arguments: '"x"}' } }] } }] },
  { choices: [{ delta: {}, finish_reason: "tool_calls" }] },
  { choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } },
];

describe("Responses request → chat", () => {
  it("maps instructions, items, tools, tool_choice, text.format and reasoning, and passes unknown fields", () => {
    const { chat } = responsesToChat({
      model: "vllm/m",
      instructions: "Be brief.",
      input: [
        { role: "developer", content: "Use metric units." },
        { role: "user", content: [{ type: "input_text", text: "Weather?" }, { type: "input_image", image_url: "https://img/x.png", detail: "low" }] },
        { type: "reasoning", content: [{ type: "reasoning_text", text: "I should call lookup." }], summary: [] },
        { type: "function_call", call_id: "call_a", name: "lookup", arguments: '{"q":"x"}' },
        { type: "function_call", call_id: "call_b", name: "lookup", arguments: '{"q":"y"}' },
        { type: "function_call_output", call_id: "call_a", output: "sunny" },
      ],
      max_output_tokens: 50,
      tools: [{ type: "function", name: "lookup", parameters: { type: "object" }, strict: true }],
      tool_choice: { type: "function", name: "lookup" },
      text: { format: { type: "json_schema", name: "w", schema: { type: "object" }, strict: true } },
      reasoning: { effort: "low" },
      metadata: { team: "a" },
      store: true,
      top_k: 5,
    });
    expect(chat.messages).toEqual([
      { role: "system", content: "Be brief." },
      { role: "system", content: "Use metric units." },
      { role: "user", content: [{ type: "text", text: "Weather?" }, { type: "image_url", image_url: { url: "https://img/x.png", detail: "low" } }] },
      {
        role: "assistant",
        content: null,
        reasoning: "I should call lookup.",
        tool_calls: [
          { id: "call_a", type: "function", function: { name: "lookup", arguments: '{"q":"x"}' } },
          { id: "call_b", type: "function", function: { name: "lookup", arguments: '{"q":"y"}' } },
        ],
      },
      { role: "tool", tool_call_id: "call_a", content: "sunny" },
    ]);
    expect(chat).toMatchObject({
      max_completion_tokens: 50,
      tools: [{ type: "function", function: { name: "lookup", parameters: { type: "object" }, strict: true } }],
      tool_choice: { type: "function", function: { name: "lookup" } },
      response_format: { type: "json_schema", json_schema: { name: "w", schema: { type: "object" }, strict: true } },
      reasoning_effort: "low",
      top_k: 5,
    });
    expect(chat).not.toHaveProperty("metadata");
    expect(chat).not.toHaveProperty("store");
    expect(chat).not.toHaveProperty("input");
  });

  it("refuses what needs a response store or hosted tools", () => {
    for (const extra of [{ previous_response_id: "resp_1" }, { tools: [{ type: "web_search" }] }, { input: [{ type: "item_reference", id: "x" }] }]) {
      expect(() => responsesToChat({ model: "m", input: "x", ...extra })).toThrow(GatewayError);
    }
  });
});

describe("chat → Response", () => {
  it("orders reasoning, message and function calls, and maps usage and length cut-offs", () => {
    const { fields } = responsesToChat({ model: "vllm/m", input: "x" });
    const response = chatToResponse(
      {
        choices: [{ message: { content: "partial", reasoning: "hmm", tool_calls: [{ id: "call_a", type: "function", function: { name: "f", arguments: "{}" } }] }, finish_reason: "length" }],
        usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
      },
      "vllm/m",
      fields,
    );
    expect((response.output as { type: string }[]).map((item) => item.type)).toEqual(["reasoning", "message", "function_call"]);
    expect(response).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" }, usage: { input_tokens: 3, output_tokens: 4, total_tokens: 7 } });
  });
});

describe("Responses stream converter", () => {
  it("emits the canonical event sequence with gapless sequence numbers and matching ids", () => {
    const { fields } = responsesToChat({ model: "vllm/m", input: "x", stream: true });
    const converter = new ResponsesStreamConverter("vllm/m", fields);
    const out = events([...toolStream.flatMap((chunk) => converter.chunk(chunk)), ...converter.done()]);
    expect(out.map((e) => e.event)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.reasoning_text.delta",
      "response.reasoning_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(out.map((e) => e.data.sequence_number)).toEqual(out.map((_, i) => i));
    expect(out.every((e) => e.data.type === e.event)).toBe(true);
    const completed = out.at(-1)?.data.response as { output: { id: string; type: string; arguments?: string }[]; usage: { total_tokens: number } };
    const added = out.filter((e) => e.event === "response.output_item.added").map((e) => (e.data.item as { id: string }).id);
    expect(completed.output.map((item) => item.id)).toEqual(added);
    expect(completed.output[2]?.arguments).toBe('{"q":"x"}');
    expect(completed.usage.total_tokens).toBe(15);
  });

  it("fails with response.failed and the partial output after an origin error", () => {
    const { fields } = responsesToChat({ model: "vllm/m", input: "x", stream: true });
    const converter = new ResponsesStreamConverter("vllm/m", fields);
    converter.chunk({ choices: [{ delta: { reasoning: "hmm" } }] });
    converter.chunk({ choices: [{ delta: { content: "par" } }] });
    converter.chunk({ choices: [{ delta: { tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "f", arguments: '{"a"' } }] } }] });
    const [failed, ...after] = events(converter.fail("engine died"));
    expect(after).toEqual([]);
    expect(failed?.event).toBe("response.failed");
    const response = failed?.data.response as { output: { type: string; status: string; content?: { text: string }[]; arguments?: string }[] };
    expect(failed?.data.response).toMatchObject({ status: "failed", error: { code: "server_error", message: "engine died" } });
    // The closed reasoning and message items, and the call still open when the origin failed, with what it had.
    expect(response.output.map((item) => [item.type, item.status, item.content?.[0]?.text ?? item.arguments])).toEqual([
      ["reasoning", "completed", "hmm"],
      ["message", "completed", "par"],
      ["function_call", "incomplete", '{"a"'],
    ]);
    const another = new ResponsesStreamConverter("vllm/m", fields);
    another.chunk({ choices: [{ delta: { content: "half an ans" } }] });
    const [cut] = events(another.fail("cut"));
    expect((cut?.data.response as { output: unknown[] }).output).toEqual([
      { id: expect.stringMatching(/^msg_/), type: "message", role: "assistant", status: "incomplete", content: [{ type: "output_text", text: "half an ans", annotations: [], logprobs: [] }] },
    ]);
  });
});

describe("Messages request → chat", () => {
  it("maps system, images, tool_use and tool_result (before the rest of the turn), thinking and tool_choice", () => {
    const { chat } = messagesToChat({
      model: "vllm/m",
      max_tokens: 100,
      system: [{ type: "text", text: "Be brief." }],
      stop_sequences: ["END"],
      messages: [
        { role: "user", content: [{ type: "text", text: "Look" }, { type: "image", source: { type: "base64", media_type: "image/png", data: "AAA" } }] },
        { role: "assistant", content: [{ type: "thinking", thinking: "hmm", signature: "s" }, { type: "tool_use", id: "toolu_1", name: "lookup", input: { q: "x" } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: "sunny" }] }, { type: "text", text: "Thanks" }] },
      ],
      tools: [{ name: "lookup", input_schema: { type: "object" } }],
      tool_choice: { type: "any", disable_parallel_tool_use: true },
      thinking: { type: "enabled", budget_tokens: 2048 },
      top_k: 4,
    });
    expect(chat.messages).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: [{ type: "text", text: "Look" }, { type: "image_url", image_url: { url: "data:image/png;base64,AAA" } }] },
      { role: "assistant", content: null, reasoning: "hmm", tool_calls: [{ id: "toolu_1", type: "function", function: { name: "lookup", arguments: '{"q":"x"}' } }] },
      { role: "tool", tool_call_id: "toolu_1", content: "sunny" },
      { role: "user", content: "Thanks" },
    ]);
    expect(chat).toMatchObject({
      max_completion_tokens: 100,
      stop: ["END"],
      tool_choice: "required",
      parallel_tool_calls: false,
      chat_template_kwargs: { enable_thinking: true },
      thinking_token_budget: 2048,
      top_k: 4,
    });
  });

  it("requires max_tokens", () => {
    expect(() => messagesToChat({ model: "m", messages: [] })).toThrow(/max_tokens/);
  });
});

describe("chat → Message", () => {
  it("maps stop reasons, including a matched stop sequence, and usage", () => {
    const base = { usage: { prompt_tokens: 10, completion_tokens: 2, prompt_tokens_details: { cached_tokens: 4 } } };
    expect(chatToMessage({ ...base, choices: [{ message: { content: "x" }, finish_reason: "stop", stop_reason: "END" }] }, "m", ["END"])).toMatchObject({
      stop_reason: "stop_sequence",
      stop_sequence: "END",
      usage: { input_tokens: 6, cache_read_input_tokens: 4, output_tokens: 2 },
    });
    expect(chatToMessage({ choices: [{ message: { content: "x" }, finish_reason: "length" }] }, "m", null).stop_reason).toBe("max_tokens");
    expect(chatToMessage({ choices: [{ message: { content: "x" }, finish_reason: "stop" }] }, "m", null).stop_reason).toBe("end_turn");
  });
});

describe("Messages stream converter", () => {
  it("emits message_start, blocks in index order, message_delta with usage, message_stop", () => {
    const converter = new MessagesStreamConverter("vllm/m", null);
    const out = events([...toolStream.flatMap((chunk) => converter.chunk(chunk)), ...converter.done()]);
    expect(out.map((e) => e.event)).toEqual([
      "message_start",
      "ping",
      "content_block_start",
      "content_block_delta",
      "content_block_stop",
      "content_block_start",
      "content_block_delta",
      "content_block_stop",
      "content_block_start",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    expect(out.filter((e) => e.event === "content_block_start").map((e) => e.data.index)).toEqual([0, 1, 2]);
    expect(out.find((e) => e.event === "message_delta")?.data).toMatchObject({ delta: { stop_reason: "tool_use" }, usage: { output_tokens: 5 } });
  });
});

describe("JSON arriving in pieces", () => {
  const progress = (pieces: string[]) => {
    const json = jsonPrefix();
    return pieces.map((piece) => json.push(piece));
  };

  it("tells a valid beginning from a whole value and from text no JSON starts with", () => {
    expect(progress(['{"city":', ' "Par', 'is", "n": [1, -2.5e3, true, null', "]}"])).toEqual(["partial", "partial", "partial", "complete"]);
    expect(progress(['{"s": "a\\"b\\u00e9', '"}'])).toEqual(["partial", "complete"]);
    expect(progress(["{not json"])).toEqual(["invalid"]);
    expect(progress(['{"a": 01}'])).toEqual(["invalid"]);
    expect(progress(['{"a": tru', "x}"])).toEqual(["partial", "invalid"]);
    expect(progress(['{"a": 1]'])).toEqual(["invalid"]);
    expect(progress(['{"a": 1}', "  ", "}"])).toEqual(["complete", "complete", "invalid"]);
    expect(progress(['{"a": "\\x"}'])).toEqual(["invalid"]);
  });

  it("counts the characters of a piece that kept it valid", () => {
    const json = jsonPrefix();
    json.push('{"a": [1');
    expect(json.push(', 2]} trailing')).toBe("invalid");
    expect(json.accepted).toBe(6);
  });
});

describe("Messages stream converter with interleaved tool calls", () => {
  const piece = (index: number, args: string, id?: string): ChatChunk => ({
    choices: [{ delta: { tool_calls: [{ index, ...(id ? { id, type: "function" } : {}), function: { ...(id ? { name: `tool_${id}` } : {}), arguments: args } }] } }],
  });
  const text = (content: string): ChatChunk => ({ choices: [{ delta: { content } }] });
  const finish: ChatChunk = { choices: [{ delta: {}, finish_reason: "tool_calls" }] };

  /** Each block as a client assembles it, checking every delta lands in a block that is open. */
  function blocks(chunks: ChatChunk[]): { type: string; id?: string; text?: string; json?: string }[] {
    const converter = new MessagesStreamConverter("vllm/m", null);
    const out = events([...chunks.flatMap((chunk) => converter.chunk(chunk)), ...converter.done()]);
    const assembled: { type: string; id?: string; text?: string; json?: string }[] = [];
    let open: number | null = null;
    for (const { event, data } of out) {
      if (event === "content_block_start") {
        expect(open).toBeNull();
        expect(data.index).toBe(assembled.length);
        const block = data.content_block as { type: string; id?: string };
        assembled.push(block.type === "tool_use" ? { type: "tool_use", id: block.id, json: "" } : { type: block.type, text: "" });
        open = data.index as number;
      } else if (event === "content_block_delta") {
        expect(data.index).toBe(open);
        const delta = data.delta as { type: string; text?: string; partial_json?: string };
        const block = assembled[open as number] as { text?: string; json?: string };
        if (delta.type === "input_json_delta") block.json += delta.partial_json ?? "";
        else block.text += delta.text ?? "";
      } else if (event === "content_block_stop") {
        expect(data.index).toBe(open);
        open = null;
      }
    }
    expect(open).toBeNull();
    return assembled;
  }

  it("keeps a call's block open until its arguments are whole, and sends what came meanwhile after it, in order", () => {
    const chunks = [text("Checking "), piece(0, '{"city":', "a"), piece(1, '{"zo', "b"), text("both."), piece(0, '"Paris"}'), piece(1, 'ne":"UTC"}'), finish];
    expect(blocks(chunks)).toEqual([
      { type: "text", text: "Checking " },
      { type: "tool_use", id: "a", json: '{"city":"Paris"}' },
      { type: "tool_use", id: "b", json: '{"zone":"UTC"}' },
      { type: "text", text: "both." },
    ]);
  });

  it("sends sequential calls as they come, and closes a call cut short at the finish", () => {
    expect(blocks([piece(0, '{"a":1}', "a"), piece(1, '{"b":', "b"), piece(1, "2}"), piece(2, '{"c":', "c"), finish])).toEqual([
      { type: "tool_use", id: "a", json: '{"a":1}' },
      { type: "tool_use", id: "b", json: '{"b":2}' },
      { type: "tool_use", id: "c", json: '{"c":' },
    ]);
  });

  it("sends only the part of a call's arguments that is valid JSON, and nothing of a late piece", () => {
    expect(blocks([piece(0, '{"a": 1, ', "a"), piece(0, "oops}"), piece(1, "{nope", "b"), piece(2, '{"c":3}', "c"), piece(2, ',"d":4}'), finish])).toEqual([
      { type: "tool_use", id: "a", json: '{"a": 1, ' },
      { type: "tool_use", id: "b", json: "{" },
      { type: "tool_use", id: "c", json: '{"c":3}' },
    ]);
  });
});

describe("conversions under governance", () => {
  it("settles Responses and Messages usage against the key, and answers refusals in each API's shape", async () => {
    await configure({ vllm: { keys: [{ name: "local", models: ["*"], vllm_key_config: { url: origin("default") } }] } });
    const key = await virtualKey("converted", {
      provider_configs: [{ provider: "vllm" }],
      rate_limit: { request_max_limit: 2, request_reset_duration: "1h", token_max_limit: 1_000_000, token_reset_duration: "1h" },
    });
    const responses = await postJson("/v1/responses", { model: "vllm/thinker", input: "Hi", stream: true }, { "x-bf-vk": key });
    expect(await responses.text()).toContain("response.completed");
    const messages = await postJson("/anthropic/v1/messages", { model: "vllm/thinker", max_tokens: 50, messages: [{ role: "user", content: "Hi" }] }, { "x-api-key": key, "anthropic-version": "2023-06-01" });
    expect(messages.status).toBe(200);
    expect(messages.headers.get("request-id")).toBeTruthy();
    const report = await eventually(() => quota(key), (q) => q.rate_limits[0]?.tokens?.current_usage === 38);
    expect(report.rate_limits[0]?.tokens?.current_usage).toBe(38); // 19 tokens each, from the origin's usage
    const limited = await postJson("/anthropic/v1/messages", { model: "vllm/thinker", max_tokens: 50, messages: [{ role: "user", content: "Hi" }] }, { "x-api-key": key });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBeTruthy();
    expect(await limited.json()).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });
  });
});

describe("Anthropic's error shape", () => {
  it("answers a request for no route under /anthropic in it, and one elsewhere in OpenAI's", async () => {
    for (const [method, path] of [["GET", "/anthropic/v1/messages"], ["POST", "/anthropic/v1/nope"]] as const) {
      const response = await gateway(path, { method });
      expect(response.status, path).toBe(404);
      const body = (await response.json()) as { type: string; error: { type: string; message: string }; request_id: string };
      expect(body, path).toEqual({ type: "error", error: { type: "not_found_error", message: `no route for ${method} ${path}` }, request_id: response.headers.get("request-id") });
    }
    const openai = await gateway("/v1/nope", { method: "POST" });
    expect(await openai.json()).toMatchObject({ error: { code: "route_not_found", message: "no route for POST /v1/nope" } });
  });
});

describe("malformed blocks and fields of the translated APIs", () => {
  const user = (content: unknown) => ({ model: "vllm/m", max_tokens: 5, messages: [{ role: "user", content }] });
  it("refuse Messages content blocks whose required strings are missing or of another type", async () => {
    const cases: [unknown, string][] = [
      [[{ type: "tool_result", tool_use_id: 5, content: "42" }], "a 'tool_result' content block needs 'tool_use_id' as a string"],
      [[{ type: "tool_result", tool_use_id: "call_1", content: { a: 1 } }], "a 'tool_result' content block's content must be a string or an array of content blocks"],
      [[{ type: "text" }], "a 'text' content block needs 'text' as a string"],
      [[{ type: "document", source: { type: "text", data: 7 } }], "a text document's source needs 'data' as a string"],
    ];
    for (const [content, message] of cases) {
      const response = await postJson("/v1/messages", user(content), { "anthropic-version": "2023-06-01" });
      expect(response.status, message).toBe(400);
      expect(await response.json(), message).toMatchObject({ type: "error", error: { type: "invalid_request_error", message } });
    }
    const assistant = await postJson("/v1/messages", { model: "vllm/m", max_tokens: 5, messages: [{ role: "assistant", content: [{ type: "tool_use", id: "t1", name: 9, input: {} }] }] });
    expect(await assistant.json()).toMatchObject({ error: { message: "a 'tool_use' content block needs 'name' as a string" } });
  });

  it("refuse what Anthropic refuses instead of sending something else upstream", async () => {
    const base = { model: "vllm/m", max_tokens: 5, messages: [{ role: "user", content: "hi" }] };
    const cases: [Record<string, unknown>, string][] = [
      [{ messages: [] }, "messages must hold at least one message"],
      [{ system: [{ type: "image", source: { type: "url", url: "https://example.com/a.png" } }] }, "system takes text blocks only, not 'image'"],
      [{ tool_choice: { type: "tool" } }, "tool_choice of type 'tool' needs the tool's name"],
      [{ thinking: { type: "enabled" } }, "thinking.budget_tokens is required when thinking is enabled"],
      [{ thinking: { type: "enabled", budget_tokens: 10 } }, "thinking.budget_tokens must be at least 1024"],
      [{ messages: [{ role: "assistant", content: [{ type: "tool_use", id: "t1", name: "f", input: "notobj" }] }] }, "a 'tool_use' content block's input must be an object"],
    ];
    for (const [fields, message] of cases) {
      const response = await postJson("/v1/messages", { ...base, ...fields }, { "anthropic-version": "2023-06-01" });
      expect(response.status, message).toBe(400);
      const body = (await response.json()) as { type: string; error: { type: string; message: string } };
      expect([body.type, body.error.type], message).toEqual(["error", "invalid_request_error"]);
      expect(body.error.message, message).toContain(message);
    }
  });

  it("refuse Responses fields of the wrong type, and text parts without text", async () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ previous_response_id: 5 }, "previous_response_id", "previous_response_id must be a string"],
      [{ store: "yes" }, "store", "store"],
      [{ input: [{ type: "message", role: "user", content: [{ type: "input_text" }] }] }, "input", "an 'input_text' content part needs 'text' as a string"],
    ];
    for (const [fields, param, message] of cases) {
      const response = await postJson("/v1/responses", { model: "vllm/m", input: "hi", ...fields });
      expect(response.status, param).toBe(400);
      const { error } = (await response.json()) as { error: { param: string | null; message: string } };
      expect(error.param, param).toBe(param);
      expect(error.message, param).toContain(message);
    }
  });

  it("say how many fallbacks a request may name", async () => {
    const response = await postJson("/v1/chat/completions", { model: "vllm/m", messages: [], fallbacks: Array.from({ length: 11 }, (_, i) => `vllm/m${i}`) });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain("fallbacks may name at most 10 models");
  });
});
